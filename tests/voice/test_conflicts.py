"""A webhook's write that PostgreSQL rolls back for a conflict with another transaction (a deadlock, a
serialization failure) is run again, not taken for an outage: the caller hears the step, the breaker stays
closed and nothing is journaled. The conflicts are PostgreSQL's own errors, raised by a trigger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from ivr.accounts.agents import BY_AGENT, BY_CALLER, BY_LINE
from ivr.accounts.throttle import fail
from ivr.db import CONFLICT_RETRIES
from ivr.models import Call, CallEvent, Throttle
from ivr.voice import pin_try
from ivr.voice.journal_replay import journal, replay

from ..conftest import OPEN, PG_URL
from ..test_deadline import is_the_fallback
from ..twilio import CallDriver, one
from .test_agent_line import said
from .test_agent_pins import PHONE_LOCKED
from .test_journal import Outage
from .test_pin_try import STRANGER, _pin_step

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IVR_TEST_POSTGRES_URL)"),
]

TRIGGER = """
CREATE SEQUENCE conflicts_raised;
CREATE FUNCTION raise_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- nextval is not rolled back with the statement: the count spans the runs
  IF NEW.kind <> 'error' AND nextval('conflicts_raised') <= {times} THEN
    RAISE EXCEPTION 'deadlock detected (raised by the test)' USING ERRCODE = '{sqlstate}';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER raise_conflict BEFORE INSERT ON call_events FOR EACH ROW EXECUTE FUNCTION raise_conflict();
"""
DROP = """
DROP TRIGGER IF EXISTS raise_conflict ON call_events;
DROP FUNCTION IF EXISTS raise_conflict();
DROP SEQUENCE IF EXISTS conflicts_raised;
"""


@pytest.fixture
def conflicts(app: Flask, session) -> Iterator[object]:
    """`conflicts(times, sqlstate)`: the next `times` events inserted fail with that SQLSTATE."""
    engine = app.extensions["ivr.db"].engine

    def arm(times: int, sqlstate: str = "40P01") -> None:
        session.rollback()  # the test's reads hold a lock on call_events that the trigger's DDL waits for
        with engine.begin() as connection:
            connection.execute(text(DROP))
            connection.execute(text(TRIGGER.format(times=times, sqlstate=sqlstate)))

    yield arm
    session.rollback()
    with engine.begin() as connection:
        connection.execute(text(DROP))


def _events(session, sid: str) -> list[str]:
    session.expire_all()
    call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
    return list(
        session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
    )


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_step_that_lost_to_another_transaction_is_run_again(app, call, session, conflicts, sqlstate):
    reference = CallDriver(call.twilio)  # the same step on a call without conflicts
    expected = reference.press(reference.start(), "1")
    menu = call.start()
    conflicts(2, sqlstate)
    options = call.press(menu, "1")
    assert not is_the_fallback(options)
    assert one(options, "//Gather/@action") == one(expected, "//Gather/@action").replace(
        reference.sid, call.sid
    )
    assert _events(session, call.sid) == _events(session, reference.sid)  # written once, no error
    assert session.scalars(select(Call.errors).where(Call.call_sid == call.sid)).one() == 0
    assert not app.extensions["ivr.breaker"].is_open
    assert not journal(app).pending()


def test_a_status_callback_that_lost_to_another_transaction_is_stored_once(app, call, session, conflicts):
    call.start()
    conflicts(1)
    assert call.twilio.status(call.sid, "completed", 5, CallDuration="30").status_code == 204
    assert _events(session, call.sid).count("status") == 1
    assert session.scalars(select(Call.status).where(Call.call_sid == call.sid)).one() == "completed"
    assert not app.extensions["ivr.breaker"].is_open and not journal(app).pending()


def test_a_step_that_keeps_losing_answers_the_fallback_without_tripping_the_breaker(
    app, call, session, conflicts, monkeypatch
):
    menu = call.start()
    conflicts(CONFLICT_RETRIES + 1)
    assert is_the_fallback(call.press(menu, "1"))
    assert session.scalars(select(Call.errors).where(Call.call_sid == call.sid)).one() == 1
    assert "error" in _events(session, call.sid)
    assert not app.extensions["ivr.breaker"].is_open and not journal(app).pending()
    conflicts(0)
    assert not is_the_fallback(call.press(menu, "1"))  # the next try goes through


def test_a_pin_try_whose_second_write_lost_counts_its_failure_once(
    app, twilio, session, agents, conflicts, monkeypatch, caplog
):
    """A wrong PIN whose one write was refused by its gate (another failure locked the phone meanwhile)
    writes its step again; when that second write loses a deadlock, only it runs again: the try's failure
    is counted once on the line and the agent, and the caller hears the phone's lock."""
    for _ in range(3):
        call, prompt = _pin_step(twilio, STRANGER, "1001")
        call.press(prompt, "000000")
    call, prompt = _pin_step(twilio, STRANGER, "1001")
    real_counts = pin_try.counts

    def raced(*args: Any) -> Any:
        found = real_counts(*args)
        fail(session, BY_CALLER, STRANGER, OPEN - timedelta(seconds=1))  # the other request's failure
        session.commit()
        conflicts(1)  # the refused write logs nothing: the step's second write is the one that loses
        return found

    monkeypatch.setattr(pin_try, "counts", raced)
    assert said(call.press(prompt, "000000")) == PHONE_LOCKED
    session.expire_all()
    counted = dict(
        session.execute(
            select(Throttle.scope, Throttle.failures).where(Throttle.scope != BY_CALLER.scope)
        ).all()
    )
    assert counted == {BY_LINE.scope: 4, BY_AGENT.scope: 4}  # the 4 wrong PINs of the 4 calls, once each
    assert _events(session, call.sid).count("agent_locked_out") == 1
    assert "a statement lost to another transaction (40P01): run again" in caplog.text


def test_a_journal_record_whose_replay_lost_stays_for_the_next_replay(app, call, session, conflicts):
    """A callback journaled while the database was down, whose replay loses a deadlock: the replay stops
    with the record kept (not set aside as broken), and the next replay applies it once."""
    call.start()
    with Outage(app).down():
        assert call.twilio.status(call.sid, "completed", 4, CallDuration="12").status_code == 503
    conflicts(1)
    with pytest.raises(OperationalError):
        replay(app)
    assert journal(app).pending() and not journal(app).companion(".failed").exists()
    assert replay(app).applied == 1
    assert _events(session, call.sid).count("status") == 1 and not journal(app).pending()
