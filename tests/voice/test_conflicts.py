"""A webhook's write that PostgreSQL rolls back for a conflict with another transaction (a deadlock, a
serialization failure) is run again, not taken for an outage: the caller hears the step, the breaker stays
closed and nothing is journaled. The conflicts are PostgreSQL's own errors, raised by a trigger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select, text

from ivr.models import Call, CallEvent
from ivr.voice import wrappers
from ivr.voice.journal_replay import journal

from ..conftest import PG_URL
from ..test_deadline import is_the_fallback
from ..twilio import CallDriver, one

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
    conflicts(wrappers.CONFLICT_RETRIES + 1)
    assert is_the_fallback(call.press(menu, "1"))
    assert session.scalars(select(Call.errors).where(Call.call_sid == call.sid)).one() == 1
    assert "error" in _events(session, call.sid)
    assert not app.extensions["ivr.breaker"].is_open and not journal(app).pending()
    conflicts(0)
    assert not is_the_fallback(call.press(menu, "1"))  # the next try goes through
