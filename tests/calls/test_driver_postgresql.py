"""PostgreSQL's webhook statements on psycopg (ivr.calls.driver) write the very values SQLAlchemy writes, read
what it reads, leave no transaction open and fail as SQLAlchemy's do; the steps' statements take that path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from psycopg import pq
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr.calls import driver, steps
from ivr.calls import log as calllog
from ivr.engine import LogEntry

from ..conftest import PG_URL
from ..writes import writes
from .test_driver import CHANGED, NOW, written_and_read_alike

pytestmark = [
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IVR_TEST_POSTGRES_URL)"),
]

# A call's rows as PostgreSQL prints them (no SQLAlchemy, no psycopg types in between), ids left out
RAW = {
    "calls": "SELECT (to_jsonb(c) - 'id' - 'call_sid')::text FROM calls AS c WHERE call_sid = :sid",
    "call_events": "SELECT at::text, kind, node, data::text FROM call_events"
    " WHERE call_id = (SELECT id FROM calls WHERE call_sid = :sid) ORDER BY id",
    "status_callbacks": "SELECT sequence_number, status, received_at::text FROM status_callbacks"
    " WHERE call_sid = :sid ORDER BY sequence_number",
    "webhook_answers": "SELECT answered_at::text, status, content_type, body FROM webhook_answers"
    " WHERE call_sid = :sid",
}


@pytest.fixture
def connections(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Connection, Connection]]:
    """A connection, and one in autocommit mode (as webhooks hold theirs); rows written at one fixed time."""
    monkeypatch.setattr(calllog, "changed_now", lambda: CHANGED)
    engine = app.extensions["ivr.db"].engine
    with engine.connect() as first, engine.connect() as second:
        second.execution_options(isolation_level="AUTOCOMMIT")
        yield first, second


def _raw(connection: Connection, sid: str) -> dict[str, list[tuple[Any, ...]]]:
    params = {"sid": sid}
    rows = {table: [tuple(r) for r in connection.execute(text(sql), params)] for table, sql in RAW.items()}
    connection.rollback()
    return rows


def test_the_driver_writes_and_reads_what_sqlalchemy_does(connections):
    through_sqlalchemy, held = connections
    written_and_read_alike(through_sqlalchemy, held, lambda sid: _raw(through_sqlalchemy, sid))
    through_sqlalchemy.rollback()


def _no_sqlalchemy_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a step's statement went through SQLAlchemy's execution path")

    monkeypatch.setattr(Connection, "execute", refused)


def test_the_steps_run_on_the_driver_and_leave_no_transaction_open(connections, monkeypatch):
    _, held = connections
    store = steps.for_dialect("postgresql")
    run = driver.runner(held)
    idle = pq.TransactionStatus.IDLE
    _no_sqlalchemy_execution(monkeypatch)
    with writes() as seen:
        assert store.read(held, "CA-new", "key-1") == steps.Found(None, None)
        answer = steps.Answer("key-1", "CA-new", NOW, 200, "text/xml", "<Response/>")
        call_id = store.start(held, calllog.call_values({"CallSid": "CA-new"}, NOW), [], NOW, answer)
        assert call_id is not None
        store.write(held, call_id, {"node": "menu"}, [LogEntry("input", "menu", {"digits": "1"})], NOW, None)
        done = {"CallSid": "CA-new", "CallStatus": "completed", "SequenceNumber": "2", "CallDuration": "9"}
        assert store.status(held, done, NOW, None)
        assert not store.status(held, done, NOW, None)  # the same SequenceNumber: a repeat
        logged = calllog.transcription("completed", "hello")
        assert store.callback(held, {"CallSid": "CA-new"}, logged, NOW, None)
    assert len(seen) == 5  # the engine's before_cursor_execute listeners saw every write
    assert not held.in_transaction() and run.driver.info.transaction_status == idle
    found = store.read(held, "CA-new", "key-1")
    assert found.call is not None and found.call.node == "menu" and found.kept is not None


def test_a_failed_statement_on_the_driver_is_raised_as_sqlalchemy_raises_it(connections):
    _, held = connections
    run = driver.runner(held)
    calllog.insert_call(run, {"CallSid": "CA-twice"}, NOW)
    other = calllog.insert_call(run, {"CallSid": "CA-other"}, NOW)
    with pytest.raises(IntegrityError, match="uq_calls_call_sid"):
        run.execute(calllog.UPDATE_CALL, {"row_id": other.id, "call_sid": "CA-twice", "updated_at": CHANGED})
    assert run.driver.info.transaction_status == pq.TransactionStatus.IDLE  # autocommit: nothing left open
    # the runner's one cursor goes on after the failure
    assert run.execute(text("SELECT count(*) FROM calls WHERE call_sid = 'CA-twice'")).scalar() == 1
