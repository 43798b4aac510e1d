"""SQLite's webhook statements on the driver (ivr.calls.driver) write the very bytes SQLAlchemy writes, read
what it reads, and stay under the webhook's deadline: a step locked out answers at its deadline, journaled."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from ivr.calls import driver, queues, steps
from ivr.calls import log as calllog
from ivr.calls.journal import read
from ivr.engine import LogEntry
from ivr.voice.journal_replay import journal

from ..helpers import call_row
from ..twilio import CallDriver, one
from ..writes import writes

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NOW = datetime(2026, 11, 24, 16, 0, 1, 250_000, tzinfo=UTC)
CHANGED = datetime(2026, 11, 24, 16, 0, 2, 5, tzinfo=UTC)
ENDED = "Tue, 24 Nov 2026 16:00:42 +0000"
READ_BACK = select(
    calllog.CALLS.c.started_at, calllog.CALLS.c.ended_at, calllog.CALLS.c.variables, calllog.CALLS.c.status
).where(calllog.CALLS.c.call_sid == bindparam("sid"))


@pytest.fixture
def connections(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Connection, Connection]]:
    """Two connections of the app's database; rows are written at one fixed wall-clock time."""
    monkeypatch.setattr(calllog, "changed_now", lambda: CHANGED)
    engine = app.extensions["ivr.db"].engine
    with engine.connect() as first, engine.connect() as second:
        yield first, second


def _a_call(bind: Any, sid: str) -> None:
    """One call's statements as the webhooks run them: status callbacks, a flow step, an answer kept."""
    params = {"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "0", "From": "+15125550199"}
    assert calllog.apply_status(bind, params, NOW)
    assert not calllog.apply_status(bind, params, NOW)  # a repeat
    call = calllog.find_or_insert_call(bind, params, NOW)
    values = {
        "node": "menü",
        "variables": {"choice": "1", "nested": {"ok": True, "none": None, "n": 1.5}, "word": "sí"},
        "tries": {},
        "queued_at": NOW,
        "desk": None,
    }
    bind.execute(calllog.UPDATE_CALL, {"row_id": call.id, **values, "updated_at": CHANGED})
    logged = [LogEntry("input", "menu", {"digits": "1"}), LogEntry("x", None, {})]
    calllog.add_events(bind, call.id, logged, NOW)
    answer = steps.Answer(f"key-{sid}", sid, NOW, 200, "text/xml", "<Response/>")
    steps.KEEP.execute(bind, answer.row())
    done = params | {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "42"}
    done["Timestamp"] = ENDED
    assert calllog.apply_status(bind, done, NOW)


def _raw(path: str, sid: str) -> dict[str, list[tuple[Any, ...]]]:
    """A call's rows as SQLite stores them (text, integers, reals: no SQLAlchemy in between), ids left out."""
    db = sqlite3.connect(path)
    try:
        (call_id,) = db.execute("SELECT id FROM calls WHERE call_sid = ?", (sid,)).fetchone()
        queries = {
            "calls": "SELECT * FROM calls WHERE id = ?",
            "call_events": "SELECT at, kind, node, data FROM call_events WHERE call_id = ? ORDER BY id",
            "status_callbacks": "SELECT sequence_number, status, received_at FROM status_callbacks"
            " WHERE call_sid = (SELECT call_sid FROM calls WHERE id = ?) ORDER BY sequence_number",
            "webhook_answers": "SELECT answered_at, status, content_type, body FROM webhook_answers"
            " WHERE call_sid = (SELECT call_sid FROM calls WHERE id = ?)",
        }
        rows = {table: db.execute(sql, (call_id,)).fetchall() for table, sql in queries.items()}
        rows["calls"] = [row[2:] for row in rows["calls"]]  # id, call_sid
        return rows
    finally:
        db.close()


def written_and_read_alike(
    through_sqlalchemy: Connection, held: Connection, raw: Callable[[str], dict[str, list[tuple[Any, ...]]]]
) -> None:
    """A call written through SQLAlchemy and one through the driver: the same rows as the database keeps
    them (`raw(sid)`), and the same values read back either way."""
    run = driver.runner(held)
    _a_call(through_sqlalchemy, "CA-sqlalchemy")
    through_sqlalchemy.commit()
    _a_call(run, "CA-driver")
    run.commit()
    theirs, ours = raw("CA-sqlalchemy"), raw("CA-driver")
    assert all(ours.values()) and ours == theirs
    for sid in ("CA-sqlalchemy", "CA-driver"):
        params = {"sid": sid}
        read_back = run.execute(READ_BACK, params).one()
        assert read_back == tuple(through_sqlalchemy.execute(READ_BACK, params).one())
        assert read_back[1] == datetime(2026, 11, 24, 16, 0, 42, tzinfo=UTC)  # aware, UTC
        found = steps.for_dialect(held.dialect.name).read(held, sid, f"key-{sid}")
        assert found.call is not None
        assert found.call.variables["nested"] == {"ok": True, "none": None, "n": 1.5}
        assert found.kept == steps.Kept(200, "text/xml", "<Response/>")
        assert queues.read_stats(run, "nowhere", NOW) == queues.read_stats(through_sqlalchemy, "nowhere", NOW)


def test_the_driver_writes_and_reads_what_sqlalchemy_does(app, connections):
    path = app.extensions["ivr.db"].engine.url.database
    written_and_read_alike(*connections, lambda sid: _raw(path, sid))


def test_the_driver_leaves_no_transaction_open(app, connections):
    _, held = connections
    run = driver.runner(held)
    store = steps.for_dialect("sqlite")
    store.read(held, "CA-none", None)
    assert not held.in_transaction() and not run.driver.in_transaction
    call_id = store.start(held, calllog.call_values({"CallSid": "CA-new"}, NOW), [], NOW, None)
    assert call_id is not None
    assert not held.in_transaction() and not run.driver.in_transaction
    calllog.find_or_insert_call(run, {"CallSid": "CA-other"}, NOW)
    run.commit()
    assert not held.in_transaction() and not run.driver.in_transaction


def test_the_driver_s_writes_are_watched_like_sqlalchemy_s(app, connections):
    """tests/writes.py sees the driver's statements (the engine's before_cursor_execute listeners run)."""
    _, held = connections
    store = steps.for_dialect("sqlite")
    with writes() as seen:
        call_id = store.start(held, calllog.call_values({"CallSid": "CA-watched"}, NOW), [], NOW, None)
        assert call_id is not None
        store.write(held, call_id, {"node": "menu"}, [LogEntry("input", "menu", {})], NOW, None)
    assert [s.split()[:3] for s in seen] == [
        ["INSERT", "INTO", "calls"],
        ["UPDATE", "calls", "SET"],
        ["INSERT", "INTO", "call_events"],
    ]


@pytest.fixture
def long_locks(config: dict[str, Any]) -> None:
    """SQLite's busy wait far longer than the webhooks' deadline: only the deadline ends a locked step."""
    config["WEBHOOK_LOCK_TIMEOUT_SECONDS"] = 30
    config["WEBHOOK_DEADLINE_SECONDS"] = 1


def test_a_locked_step_on_the_driver_answers_at_its_deadline_and_is_journaled(
    long_locks, app, call: CallDriver, session, monkeypatch
):
    menu = call.start()
    sent: list[str] = []
    execute = driver.Runner.execute

    def noted(self: driver.Runner, statement: Any, parameters: Any = None) -> driver.Rows:
        sent.append(str(statement).split()[0])
        return execute(self, statement, parameters)

    monkeypatch.setattr(driver.Runner, "execute", noted)
    engine = app.extensions["ivr.db"].engine
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        found: list[Any] = []
        thread = threading.Thread(target=lambda: found.append(call.press(menu, "1")), daemon=True)
        thread.start()
        thread.join(20)  # not a timing: only so that a hang fails instead of blocking the suite
        assert not thread.is_alive(), "the step waited for the lock past its deadline"
    finally:
        holder.close()
    assert one(found[0], "/Response/Enqueue/text()") == "local-desk"  # the site's fallback
    assert "UPDATE" in sent  # the step's write went through the driver
    records = [*read(journal(app).replaying), *read(journal(app).path)]
    assert [(r["kind"], r["params"]["CallSid"]) for r in records] == [("step", call.sid)]
    assert "database is locked" in records[0]["error"] or "interrupted" in records[0]["error"]
    assert call_row(session, call.sid).node == "language"  # the failed step changed nothing


def test_a_statement_built_anew_for_each_request_is_reported_as_uncached(app, connections):
    """The driver compiles per statement object: tests/cacheable.py catches one built per request (the
    same SQL compiled again), which SQLAlchemy's cache would have found by its key."""
    from sqlalchemy import update

    from ..cacheable import recording

    _, held = connections
    run = driver.runner(held)
    call_id = calllog.insert_call(run, {"CallSid": "CA-anew"}, NOW).id
    run.commit()
    with recording(app.extensions["ivr.db"].engine) as seen:
        for node in ("a", "b"):
            run.execute(calllog.UPDATE_CALL, {"row_id": call_id, "node": node, "updated_at": CHANGED})
        assert seen.uncacheable() == []  # one statement, compiled once
        for node in ("c", "d"):
            anew = update(calllog.CALLS).where(calllog.CALLS.c.id == bindparam("row_id"))
            run.execute(anew, {"row_id": call_id, "node": node, "updated_at": CHANGED})
        run.commit()
    # each built anew: the SQL UPDATE_CALL's compile gave already, compiled again
    assert [e.sql.split()[0] for e in seen.uncacheable()] == ["UPDATE", "UPDATE"]


def test_a_parameter_rendered_into_the_sql_is_refused(app, connections):
    _, held = connections
    fixed = select(calllog.CALLS.c.id).where(calllog.CALLS.c.node == bindparam("node", literal_execute=True))
    with pytest.raises(ValueError, match="rendered into the SQL"):
        driver.runner(held).execute(fixed, {"node": "menu"})


class _FailingCommit:
    """A sqlite3 connection whose commit fails as a full disk or an interrupted one does."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def commit(self) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_a_failed_commit_on_the_driver_is_the_database_s_failure(app, connections):
    """Raised as SQLAlchemy raises a driver error, and in a webhook as DatabaseUnavailable (journaled, the
    breaker told), not as a broken flow."""
    from sqlalchemy.exc import OperationalError

    from ivr import deadline
    from ivr.db import DatabaseUnavailable

    _, held = connections
    run = driver.runner(held)
    run.driver = _FailingCommit(run.driver)
    with pytest.raises(OperationalError, match="disk is full"):
        run.commit()
    deadline.begin(5, app.extensions["ivr.breaker"])
    try:
        with pytest.raises(DatabaseUnavailable, match="disk is full"):
            run.commit()
    finally:
        deadline.end()
