"""Status callbacks of calls ivr placed: on PostgreSQL one read of the attempt and one statement
(ivr.campaigns.placed_status), leaving the attempt, contact and campaign as the transactional path does
(calllog.apply_status and attempts.on_status, which SQLite and the journal's replay run)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from ivr.calls import log as calllog
from ivr.campaigns import attempts, placed_status
from ivr.campaigns.service import change_state
from ivr.db import session as db_session
from ivr.models import Attempt, Call, CallEvent, Campaign, Contact

from ..campaign_helpers import CALLER_ID, load, new_campaign
from ..conftest import OPEN
from ..helpers import call_row
from ..twilio import TwilioClient, new_sid
from ..voice.roundtrips import RoundTrips

PHONES = ("+15125550160", "+15125550161")


@dataclass(frozen=True)
class Placed:
    """A campaign running with its contacts being dialled, and the attempt of the first one."""

    campaign_id: int
    attempt_id: int
    sid: str


def _placed(
    app: Flask, session: Session, name: str, *, linked: bool, tries: int = 1, others: int = 0,
    campaign_state: str = "running", contact_state: str = "dialling", **settings: Any,
) -> Placed:  # fmt: skip
    campaign = new_campaign(app, session, name, **settings)
    load(session, campaign, "phone\n" + "".join(f"{p}\n" for p in PHONES[: 1 + others]))
    session.execute(
        update(Contact).where(Contact.campaign_id == campaign.id).values(state="dialling", attempts=tries)
    )
    session.execute(update(Campaign).where(Campaign.id == campaign.id).values(state=campaign_state))
    placed = _attempt_to(session, campaign.id, PHONES[0], linked=linked, number=tries)
    session.execute(
        update(Contact)
        .where(Contact.phone == PHONES[0], Contact.campaign_id == campaign.id)
        .values(state=contact_state)
    )
    session.commit()
    return placed


def _attempt_to(session: Session, campaign_id: int, phone: str, *, linked: bool, number: int = 1) -> Placed:
    """An attempt of the campaign's contact with this number, placed (linked: its CallSid stored)."""
    contact_id = session.scalars(
        select(Contact.id).where(Contact.campaign_id == campaign_id, Contact.phone == phone)
    ).one()
    sid = new_sid()
    made = Attempt(
        campaign_id=campaign_id, contact_id=contact_id, number=number, requested_at=OPEN,
        call_sid=sid if linked else None, status="queued" if linked else "pending",
    )  # fmt: skip
    session.add(made)
    session.commit()
    return Placed(campaign_id, made.id, sid)


def _params(twilio: TwilioClient, placed: Placed, status: str, sequence: int, **extra: str) -> dict[str, str]:
    to = extra.pop("To", PHONES[0])
    return twilio.call_params(
        placed.sid, CALLER_ID, to, status, Direction="outbound-api", SequenceNumber=str(sequence), **extra
    )


def _by_http(twilio: TwilioClient, placed: Placed, callbacks: list[dict[str, str]]) -> None:
    for params in callbacks:
        assert twilio.post(f"/voice/status?attempt={placed.attempt_id}", params).status_code == 204


def _by_session(session: Session, placed: Placed, callbacks: list[dict[str, str]]) -> None:
    """The transactional path: what the status handler does (SQLite, the journal's replay)."""
    for params in callbacks:
        if calllog.apply_status(session, params, OPEN):
            attempts.on_status(session, params, str(placed.attempt_id), OPEN)
        session.commit()


def _state(session: Session, placed: Placed) -> dict[str, Any]:
    """What the callbacks left, without ids and CallSids."""
    session.expire_all()
    attempt = session.get_one(Attempt, placed.attempt_id)
    contact = session.get_one(Contact, attempt.contact_id)
    campaign = session.get_one(Campaign, placed.campaign_id)
    others = session.scalars(
        select(Contact.state).where(Contact.campaign_id == campaign.id, Contact.id != contact.id)
    )
    return {
        "attempt": (attempt.call_sid == placed.sid, attempt.status, attempt.answered_by, attempt.duration,
                    attempt.ended_at),
        "contact": (contact.state, contact.attempts, contact.next_attempt_at, contact.last_outcome,
                    contact.last_error),
        "others": sorted(others),
        "campaign": (campaign.state, campaign.updated_at if campaign.state == "finished" else None),
        "events": [(e.kind, e.data) for e in _events(session, placed.sid)],
    }  # fmt: skip


def _events(session: Session, sid: str) -> list[CallEvent]:
    found = session.scalar(select(Call.id).where(Call.call_sid == sid))
    return list(session.scalars(select(CallEvent).where(CallEvent.call_id == found).order_by(CallEvent.id)))


SCENARIOS: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, str]]]]] = {
    "a person answers, the last contact: done, campaign finished": (
        {"linked": False},
        [
            ("initiated", {}),
            ("ringing", {}),
            ("in-progress", {"AnsweredBy": "human"}),
            ("completed", {"CallDuration": "30"}),
        ],
    ),
    "busy with tries left: due after the campaign's spacing": (
        {"linked": True, "retry_seconds": {"busy": 120}},
        [("ringing", {}), ("busy", {"CallDuration": "0"})],
    ),
    "no answer at the last try: failed, campaign finished": (
        {"linked": True, "tries": 3, "max_attempts": 3},
        [("no-answer", {})],
    ),
    "a machine hung up on: due again": (
        {"linked": True, "machine_detection": "hangup"},
        [("completed", {"AnsweredBy": "machine_end_beep", "CallDuration": "4"})],
    ),
    "a cancelled campaign: its contact is cancelled, not due": (
        {"linked": True, "campaign_state": "cancelled"},
        [("busy", {})],
    ),
    "another contact still dialled: the campaign runs on": (
        {"linked": True, "others": 1},
        [("completed", {"AnsweredBy": "human", "CallDuration": "12"})],
    ),
    "late and repeated callbacks never move an attempt back or settle it twice": (
        {"linked": False, "retry_seconds": {"no-answer": 60}},
        [("no-answer", {}), ("ringing", {}), ("no-answer", {}), ("completed", {"AnsweredBy": "human"})],
    ),
    "a hint naming another number's attempt is not linked": (
        {"linked": False},
        [("completed", {"To": "+15125550999", "AnsweredBy": "human"})],
    ),
    "a contact no longer being dialled is not settled again, and the campaign finishes": (
        {"linked": True, "contact_state": "failed"},
        [("completed", {"AnsweredBy": "human", "CallDuration": "7"})],
    ),
    "an unknown status moves nothing but keeps AnsweredBy": (
        {"linked": True},
        [("paused", {"AnsweredBy": "fax"})],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_placed_calls_callbacks_leave_what_the_transactional_path_leaves(app, twilio, session, name):
    settings, steps = SCENARIOS[name]
    served = _placed(app, session, "Served", **settings)
    direct = _placed(app, session, "Direct", **settings)
    _by_http(twilio, served, [_params(twilio, served, s, i, **x) for i, (s, x) in enumerate(steps)])
    _by_session(session, direct, [_params(twilio, direct, s, i, **x) for i, (s, x) in enumerate(steps)])
    assert _state(session, served) == _state(session, direct)
    assert call_row(session, served.sid).status == call_row(session, direct.sid).status


def test_what_the_scenarios_leave(app, twilio, session):
    """The expected values themselves, for two of the scenarios (the comparison above holds either way)."""
    person = _placed(app, session, "Person", linked=False)
    _by_http(twilio, person, [
        _params(twilio, person, "in-progress", 1, AnsweredBy="human"),
        _params(twilio, person, "completed", 2, CallDuration="30"),
    ])  # fmt: skip
    state = _state(session, person)
    assert state["attempt"][:4] == (True, "completed", "human", 30)
    assert state["contact"][0] == "done" and state["contact"][3] == "human"
    assert state["campaign"] == ("finished", OPEN)
    busy = _placed(app, session, "Busy", linked=True, retry_seconds={"busy": 120}, others=1)
    _by_http(twilio, busy, [_params(twilio, busy, "busy", 1)])
    state = _state(session, busy)
    assert state["contact"][:4] == ("pending", 1, OPEN + timedelta(seconds=120), "busy")
    assert state["campaign"] == ("running", None)


def test_a_placed_calls_status_costs_one_read_and_one_statement(app, twilio, session):
    placed = _placed(app, session, "Trips", linked=False)
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    twilio.post(f"/voice/status?attempt={placed.attempt_id}", _params(twilio, placed, "ringing", 1))
    with counter.counting():
        params = _params(twilio, placed, "completed", 2, AnsweredBy="human", CallDuration="9")
        assert twilio.post(f"/voice/status?attempt={placed.attempt_id}", params).status_code == 204
    if app.extensions["ivr.db"].engine.dialect.name == "postgresql":
        assert counter.trips == 2
    assert _state(session, placed)["contact"][0] == "done"
    call = call_row(session, placed.sid)
    kinds = session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id))
    assert list(kinds) == ["status", "status"]


RACES = {  # another request's change of the attempt, and what the attempt ends as
    "AnsweredBy kept by the answered call's first step": (
        {"answered_by": "machine_start"},
        ("completed", "machine_start"),
    ),
    "ringing applied by another callback": ({"status": "ringing"}, ("completed", None)),
    "the CallSid linked by the answered call's first step": ({"call_sid": "mine"}, ("completed", None)),
}


@pytest.mark.parametrize("race", RACES)
def test_an_attempt_changed_between_the_read_and_the_write_is_read_again(
    app, twilio, session, monkeypatch, race
):
    """Another request changes the attempt between this callback's read and its statement: the statement
    writes nothing, the attempt is read again, and both changes stay. (SQLite runs the transactional path,
    which reads nothing before its transaction: there the change comes first.)"""
    on_postgresql = app.extensions["ivr.db"].engine.dialect.name == "postgresql"
    change, (status, answered_by) = RACES[race]
    placed = _placed(app, session, "Raced", linked="call_sid" not in change, machine_detection="hangup")
    change = {k: placed.sid if v == "mine" else v for k, v in change.items()}
    reads = []
    real = placed_status._attempt

    def racing(*args: Any) -> Any:
        found = real(*args) if on_postgresql else None
        if not reads:
            session.execute(update(Attempt).where(Attempt.id == placed.attempt_id).values(**change))
            session.commit()
        reads.append(found)
        return found

    monkeypatch.setattr(placed_status, "_attempt", racing)
    if not on_postgresql:
        racing()  # the other request's change, then the callback
        reads.clear()
    _by_http(twilio, placed, [_params(twilio, placed, "completed", 1, CallDuration="5")])
    assert len(reads) == (2 if on_postgresql else 0)
    state = _state(session, placed)
    assert state["attempt"][:3] == (True, status, answered_by)
    outcome = "machine" if answered_by else "human"
    assert state["contact"][0] == ("pending" if answered_by else "done") and state["contact"][3] == outcome
    # the first statement wrote nothing, not even the call log's part
    assert [kind for kind, _data in state["events"]] == ["status"]


def _while_attempt_locked(app: Flask, attempt_id: int, callback: Any, meanwhile: Any) -> None:
    """PostgreSQL: run `callback` in a thread while another transaction holds the attempt's row (it waits
    for it), run `meanwhile`, then let the attempt go. SQLite has no row locks: `meanwhile`, then
    `callback`."""
    if app.extensions["ivr.db"].engine.dialect.name != "postgresql":
        meanwhile()
        callback()
        return
    with app.extensions["ivr.db"].sessionmaker() as holder:
        holder.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update()).one()
        waiting = threading.Thread(target=callback)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # the callback's statement waits for the attempt
        meanwhile()
        holder.commit()
    waiting.join(30)
    assert not waiting.is_alive()


def test_the_last_contacts_settle_together_and_the_campaign_finishes(app, twilio, session):
    """Two contacts' final callbacks: the second closes while the first waits for its attempt, which
    began when the second was still open. The campaign finishes all the same."""
    first = _placed(app, session, "Together", linked=True, others=1)
    second = _attempt_to(session, first.campaign_id, PHONES[1], linked=True)
    done = [_params(twilio, first, "completed", 1, AnsweredBy="human")]
    other = [_params(twilio, second, "completed", 1, AnsweredBy="human", To=PHONES[1])]
    _while_attempt_locked(
        app, first.attempt_id, lambda: _by_http(twilio, first, done), lambda: _by_http(twilio, second, other)
    )
    state = _state(session, first)
    assert (state["contact"][0], state["others"]) == ("done", ["done"])
    assert state["campaign"] == ("finished", OPEN)


def test_a_campaign_cancelled_while_a_callback_waits_cancels_its_contact(app, twilio, session):
    placed = _placed(app, session, "Cancelled meanwhile", linked=True, others=1)

    def cancel() -> None:
        with app.extensions["ivr.db"].sessionmaker() as s:
            change_state(s, s.get_one(Campaign, placed.campaign_id), "cancel", OPEN)
            s.commit()

    busy = [_params(twilio, placed, "busy", 1)]
    _while_attempt_locked(app, placed.attempt_id, lambda: _by_http(twilio, placed, busy), cancel)
    state = _state(session, placed)
    assert state["contact"][0] == "cancelled" and state["campaign"][0] == "cancelled"
    assert state["others"] == ["dialling"]  # being dialled, not pending: cancelling leaves it to its call


@pytest.mark.parametrize("kind", ["placed status", "status", "transcription"])
def test_a_call_logged_by_another_request_during_the_statement_gets_its_callback(app, twilio, session, kind):
    """Another request inserts the call (not committed yet) after this callback's statement looked for it:
    the statement's INSERT waits, finds it taken, and the statement runs again on the row (its answer kept
    and its sequence seen already, the attempt's part done)."""
    placed = _placed(app, session, "Logged meanwhile", linked=True)
    direction = "outbound-api" if kind == "placed status" else "inbound"
    params = _params(twilio, placed, "completed", 4, CallDuration="3") | {"Direction": direction}
    params |= (
        {"TranscriptionStatus": "completed", "TranscriptionText": "Hi"} if kind == "transcription" else {}
    )
    url = {"transcription": "/voice/transcription"}.get(kind, f"/voice/status?attempt={placed.attempt_id}")
    headers = {"I-Twilio-Idempotency-Token": f"meanwhile-{kind}"}

    def callback() -> None:
        assert twilio.post(url, params, headers=headers).status_code == 204

    with app.extensions["ivr.db"].sessionmaker() as other:
        calllog.insert_call(other, params, OPEN)  # not committed yet
        waiting = threading.Thread(target=callback)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()
        other.commit()
    waiting.join(30)
    assert not waiting.is_alive()
    row = call_row(session, placed.sid)
    kinds = [e.kind for e in _events(session, placed.sid)]
    if kind == "transcription":
        assert (kinds, row.transcription) == (["transcription"], "Hi")
    else:
        assert (kinds, row.status, row.duration) == (["status"], "completed", 3)
    session.expire_all()
    attempt = session.get_one(Attempt, placed.attempt_id)
    assert attempt.status == ("completed" if kind == "placed status" else "queued")


def test_the_transactional_path_takes_the_attempt_before_the_calls_row(app, twilio, session):
    """The journal's replay of a placed call's status (the transactional path) locks the attempt before the
    call's row, as placed_status does: while it waits for the attempt it holds nothing that a live
    callback of the call needs, so the two never deadlock."""
    placed = _placed(app, session, "Replayed", linked=True)
    assert twilio.post(f"/voice/status?attempt={placed.attempt_id}", _params(twilio, placed, "ringing", 1))
    params = _params(twilio, placed, "completed", 2, AnsweredBy="human", CallDuration="8")
    handler = app.view_functions["voice.flow.status"].__wrapped__  # what the journal's replay runs

    def replay() -> None:
        with app.test_request_context(
            f"/voice/status?attempt={placed.attempt_id}", method="POST", data=params
        ):
            handler()
            db_session().commit()

    if app.extensions["ivr.db"].engine.dialect.name != "postgresql":  # no row locks
        replay()
    else:
        with app.extensions["ivr.db"].sessionmaker() as holder:
            holder.execute(select(Attempt.id).where(Attempt.id == placed.attempt_id).with_for_update()).one()
            waiting = threading.Thread(target=replay)
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()
            with app.extensions["ivr.db"].sessionmaker() as live:  # the call's row is free meanwhile
                live.execute(text("SET LOCAL lock_timeout = '2s'"))
                live.execute(update(Call).where(Call.call_sid == placed.sid).values(errors=Call.errors))
                live.commit()
            holder.commit()
        waiting.join(30)
        assert not waiting.is_alive()
    state = _state(session, placed)
    assert state["attempt"][1:4] == ("completed", "human", 8) and state["contact"][0] == "done"
