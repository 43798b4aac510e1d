"""The PIN try on PostgreSQL (ivr.voice.pin_try): a read of the agents and of the keys' counts, then one
write that counts the try with the step and its answer, guarded by the lock the read foretold; the same rows
and answers as the check in a Session's transaction (SQLite's, and PostgreSQL's before)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from ivr.accounts.agents import BY_CALLER
from ivr.accounts.throttle import fail
from ivr.models import Agent, Call, CallEvent, Throttle, WebhookAnswer
from ivr.voice import agent_line, pin_try

from ..conftest import OPEN
from ..twilio import CallDriver, TwilioClient
from .roundtrips import RoundTrips
from .test_agent_line import AGENT_LINE, AGENT_PHONE, WRONG_PAIR, said
from .test_agent_pins import PHONE_LOCKED
from .test_steps import on_postgresql

STRANGER = "+14155550123"


def _pin_step(twilio: TwilioClient, phone: str, agent_id: str) -> tuple[CallDriver, Any]:
    """A call from `phone` that has keyed in `agent_id`: the call and the prompt for the PIN."""
    call = CallDriver(twilio, caller=phone, called=AGENT_LINE)
    return call, call.press(call.start(), agent_id)


def test_a_pin_try_is_three_reads_and_one_write_on_postgresql(app, twilio, session, agents):
    """PostgreSQL: the leg, the agents and the counts read, then one write, right PIN or wrong (it was 11
    and 12 round trips in a Session's transaction)."""
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    trips, writes, heard = [], [], []
    for phone, pin in ((STRANGER, "000000"), (AGENT_PHONE, "432198")):
        call, prompt = _pin_step(twilio, phone, "1001")
        with counter.counting():
            heard.append(said(call.press(prompt, pin)))
        trips.append(counter.trips)
        writes.append([s for s in counter.statements or [] if not s.lstrip().upper().startswith("SELECT")])
    assert heard[0].startswith(WRONG_PAIR) and heard[1].startswith("Welcome, Ana. You are signed in.")
    if on_postgresql(app):
        assert trips == [4, 4]
        assert [len(w) for w in writes] == [1, 1] and all(
            w[0].startswith("WITH f_line AS") for w in writes[:1]
        )
        assert writes[1][0].startswith("WITH c_caller AS")
    session.expire_all()
    assert session.scalars(select(Agent.short_pin).where(Agent.agent_id == "1001")).one() is False
    counted = session.execute(select(Throttle.scope, Throttle.key, Throttle.failures)).all()
    assert sorted(counted) == [("agent_pin.caller", STRANGER, 1), ("agent_pin.line", AGENT_LINE, 1)]
    # the right PIN forgot Ana's count (and its phone's, which had none); the line's and the stranger's stay


def test_a_failure_counted_between_the_read_and_the_write_is_told(app, twilio, session, agents, monkeypatch):
    """Another wrong PIN from the same phone is counted after this try's read: this try's failure is the
    fifth, which locks the phone, though the read foretold no lock. The write is refused by its gate and
    made again with the lock told; the call logs its step once. (SQLite reads in the check's transaction:
    there the other failure comes first.)"""
    for _ in range(3):
        call, prompt = _pin_step(twilio, STRANGER, "1001")
        call.press(prompt, "000000")
    call, prompt = _pin_step(twilio, STRANGER, "1001")
    writes: list[tuple[Any, ...]] = []
    real_counts, real_write = pin_try.counts, agent_line.steps.PostgreSQLSteps.write_legs_gated

    def raced(*args: Any) -> Any:
        found = real_counts(*args)
        fail(session, BY_CALLER, STRANGER, OPEN)  # the other request's failure, committed
        session.commit()
        return found

    def watched(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        done = real_write(*args, **kwargs)
        writes.append(done)
        return done

    monkeypatch.setattr(pin_try, "counts", raced)
    monkeypatch.setattr(agent_line.steps.PostgreSQLSteps, "write_legs_gated", watched)
    if not on_postgresql(app):
        fail(session, BY_CALLER, STRANGER, OPEN)
        session.commit()
    assert said(call.press(prompt, "000000")) == PHONE_LOCKED
    if on_postgresql(app):
        assert [done[0] for done in writes] == [0, 1]  # refused (locks not as foretold), then written
        assert writes[0][1:] == (False, True)  # the line's failure locked nothing, the caller's did
    session.expire_all()
    row = session.scalars(select(Call).where(Call.call_sid == call.sid)).one()
    kinds = session.scalars(select(CallEvent.kind).where(CallEvent.call_id == row.id).order_by(CallEvent.id))
    assert list(kinds).count("agent_locked_out") == 1
    locked = session.scalars(select(Throttle.locked_until).where(Throttle.key == STRANGER)).one()
    assert locked is not None and locked > OPEN


TRIES = [  # (phone, agent id, PIN): wrong, unknown, withheld, inactive, then enough to lock phone and line
    (STRANGER, "1001", "000000"),
    (STRANGER, "9999", "432198"),
    ("+266696687", "1001", "000000"),
    (AGENT_PHONE, "1002", "111134"),
    *[("+14155550124", "1001", "000001")] * 5,
    *[("+14155550125", "2001", "000002")] * 5,
    (AGENT_PHONE, "1001", "432198"),
    ("+14155550126", "1001", "000003"),
    # 20 wrong PINs for Ana from five phones (four each: no phone locked) lock her; then her right PIN
    *[(f"+1415555013{n // 4}", "1001", "000004") for n in range(20)],
    (AGENT_PHONE, "1001", "432198"),
]


def _run_tries(twilio: TwilioClient, session) -> dict[str, Any]:
    """Each try on a call of its own: what each call heard and logged, and the counts and PINs after."""
    heard, logged = [], []
    for phone, agent_id, pin in TRIES:
        call, prompt = _pin_step(twilio, phone, agent_id)
        heard.append(said(call.press(prompt, pin)))
        row = session.scalars(select(Call).where(Call.call_sid == call.sid)).one()
        found = select(CallEvent.kind, CallEvent.node, CallEvent.data).where(CallEvent.call_id == row.id)
        logged.append([tuple(e) for e in session.execute(found.order_by(CallEvent.id))])
        session.expire_all()
    columns = (
        Throttle.scope,
        Throttle.key,
        Throttle.failures,
        Throttle.first_failed_at,
        Throttle.locked_until,
    )
    return {
        "heard": heard,
        "logged": logged,
        "counts": sorted(session.execute(select(*columns)).all()),
        "pins": session.execute(select(Agent.agent_id, Agent.short_pin).order_by(Agent.agent_id)).all(),
        "kept": session.scalars(select(WebhookAnswer.body).order_by(WebhookAnswer.answered_at)).all(),
    }


def _forget(session) -> None:
    """No calls and no counts; every PIN's length unknown (set before migration 0013), so that a sign-in
    notes it."""
    for table in (CallEvent, WebhookAnswer, Call, Throttle):
        session.execute(delete(table))
    session.execute(update(Agent).values(short_pin=None))
    session.commit()


def test_the_one_write_leaves_the_rows_and_answers_of_the_sessions_check(
    app, twilio, session, agents, monkeypatch
):
    """The same tries, checked in one write and in a Session's transaction: the same answers, events,
    counts, locks and PIN notes. (On SQLite both are the Session's.)"""
    _forget(session)
    one_write = _run_tries(twilio, session)
    _forget(session)
    monkeypatch.setattr(agent_line, "_one_write", lambda _store: False)
    in_session = _run_tries(twilio, session)
    assert one_write == in_session
    assert PHONE_LOCKED in one_write["heard"] and any("this line" in h for h in one_write["heard"])
    assert sum(h.startswith("Welcome") for h in one_write["heard"]) == 1
    assert ("agent_pin.agent", "1001") in {row[:2] for row in one_write["counts"] if row[4] is not None}
    assert one_write["pins"] == [("1001", False), ("1002", False), ("2001", None), ("3001", None)]
