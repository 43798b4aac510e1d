"""Webhook writes on one SQLite file take turns across processes and threads (ivr.writer_lock, through the
steps' `_transaction`): no "database is locked" even with a short busy timeout, the turn given back after a
failed write, nothing of it in memory, and a turn held too long fails the step at its deadline.

No test times anything: a thread's join(HANG) only turns a webhook that would hang for ever into a failure.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ivr import writer_lock
from ivr.calls.journal import read
from ivr.calls.steps import _transaction
from ivr.db import Database, Limits
from ivr.voice.journal_replay import journal

from .helpers import call_row
from .test_deadline import HANG, failures, in_thread, is_the_fallback

WRITES = 200  # per writer: a few hundred short transactions back to back
ROWS = 5  # inserted by each
SHORT_BUSY = Limits(lock=0.05)  # 50 ms: SQLite's busy handler alone gives up within a few tries


def _writes(url: str, writer: int) -> list[str]:
    """WRITES webhook-style steps on a connection of its own: a read, then a transaction (an update and a
    batch of inserts); the errors."""
    database = Database(url, SHORT_BUSY)
    errors = []
    with database.engine.connect() as connection:
        for n in range(WRITES):
            try:
                connection.execute(text("SELECT count(*) FROM hits WHERE writer = :w"), {"w": writer}).all()
                connection.commit()
                with _transaction(connection):
                    connection.execute(text("UPDATE counters SET n = n + 1 WHERE writer = :w"), {"w": writer})
                    rows = [{"w": writer, "n": n}] * ROWS
                    connection.execute(text("INSERT INTO hits (writer, n) VALUES (:w, :n)"), rows)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}".splitlines()[0])
    database.engine.dispose()
    return errors


def _writes_into(url: str, writer: int, results: Any) -> None:
    results.put((writer, _writes(url, writer)))


@pytest.fixture
def database_file(tmp_path: Path) -> Iterator[str]:
    """A SQLite file (WAL, as the app's) with a counter row per writer and a table of their writes."""
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counters (writer INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        connection.execute(text("CREATE TABLE hits (writer INTEGER NOT NULL, n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counters VALUES (0, 0), (1, 0)"))
    yield url
    database.engine.dispose()


def _written(url: str) -> tuple[list[tuple[int, int]], int]:
    database = Database(url)
    with database.engine.connect() as connection:
        counters = [
            tuple(row) for row in connection.execute(text("SELECT writer, n FROM counters ORDER BY 1"))
        ]
        hits = connection.execute(text("SELECT count(*) FROM hits")).scalar_one()
    database.engine.dispose()
    return counters, hits  # type: ignore[return-value]


def test_two_processes_writing_one_file_take_turns_without_database_is_locked(database_file):
    context = multiprocessing.get_context("spawn")  # fresh processes, as `ivr traffic --jobs` starts
    results = context.Queue()
    writers = [context.Process(target=_writes_into, args=(database_file, w, results)) for w in (0, 1)]
    for process in writers:
        process.start()
    errors = dict(results.get(timeout=HANG) for _ in writers)
    for process in writers:
        process.join(HANG)
    assert errors == {0: [], 1: []}
    assert _written(database_file) == ([(0, WRITES), (1, WRITES)], 2 * ROWS * WRITES)


def test_two_threads_writing_one_file_take_turns_without_database_is_locked(database_file):
    errors: dict[int, list[str]] = {}
    threads = [
        threading.Thread(target=lambda w=w: errors.update({w: _writes(database_file, w)})) for w in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG)
    assert errors == {0: [], 1: []}
    assert _written(database_file) == ([(0, WRITES), (1, WRITES)], 2 * ROWS * WRITES)


def test_a_write_waits_for_the_turn_another_process_holds(database_file):
    database = Database(database_file, Limits(lock=HANG))  # the turn is waited for up to the busy timeout
    holder = os.open(database_file.removeprefix("sqlite:///") + writer_lock.SUFFIX, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a description of its own: as another process in its turn

    def write() -> None:
        with database.engine.connect() as connection, _transaction(connection):
            connection.execute(text("INSERT INTO hits VALUES (0, 1)"))

    writer = threading.Thread(target=write, daemon=True)
    try:
        writer.start()
        writer.join(0.2)
        assert writer.is_alive(), "wrote while another process held its turn"
        assert _written(database_file)[1] == 0
    finally:
        os.close(holder)
    writer.join(HANG)
    assert _written(database_file)[1] == 1
    database.engine.dispose()


def test_a_forked_process_takes_turns_with_its_parent(database_file):
    """gunicorn forks its workers: a child shares neither its parent's turn nor its thread lock."""
    lock = writer_lock.for_sqlite(database_file.removeprefix("sqlite:///"))
    assert lock is not None and lock.acquire(1)  # the parent in its turn when it forks
    to_child, from_parent = os.pipe()  # (read end, write end)
    to_parent, from_child = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: tries while the parent holds its turn, then after it let go
        in_parents_turn = lock.acquire(0.05)
        os.write(from_child, b"tried")
        os.read(to_child, 1)
        after = lock.acquire(HANG)
        os._exit((1 if in_parents_turn else 0) + (0 if after else 2))
    try:
        os.read(to_parent, 5)
    finally:
        lock.release()
        os.write(from_parent, b"!")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "1: took the parent's turn, 2: never got one"


def _lock_is_free(path: str) -> bool:
    """Whether another open file description (as another process has) gets the lock at once."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_turn_is_given_back_after_a_write_that_fails(database_file):
    database = Database(database_file, SHORT_BUSY)
    lock_file = database_file.removeprefix("sqlite:///") + writer_lock.SUFFIX
    with database.engine.connect() as connection:
        with pytest.raises(ValueError), _transaction(connection):
            connection.execute(text("INSERT INTO hits VALUES (0, 1)"))
            assert not _lock_is_free(lock_file)  # held while writing
            raise ValueError("the step failed")
        assert _lock_is_free(lock_file)
        with pytest.raises(Exception, match="UNIQUE"), _transaction(connection):
            connection.execute(text("INSERT INTO counters VALUES (0, 5)"))  # the database refuses it
        assert _lock_is_free(lock_file)
        other = in_thread(lambda: writer_lock.for_sqlite(database.engine.url.database).acquire(0.5))
        assert other, "a thread of this process still finds the lock taken"
        writer_lock.for_sqlite(database.engine.url.database).release()
    database.engine.dispose()
    assert _written(database_file) == ([(0, 0), (1, 0)], 0)  # both rolled back


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///file:writes?mode=memory&cache=shared&uri=true"])
def test_an_in_memory_database_is_written_without_a_lock_file(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = Database(url)
    with database.engine.connect() as connection:
        with _transaction(connection):
            connection.execute(text("CREATE TABLE hits (n INTEGER)"))
        with _transaction(connection):
            connection.execute(text("INSERT INTO hits VALUES (1)"))
        assert connection.execute(text("SELECT n FROM hits")).scalars().all() == [1]
    database.engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_writes_go_on_where_no_lock_file_can_be_made(database_file, caplog):
    path = database_file.removeprefix("sqlite:///")
    Path(path + writer_lock.SUFFIX).mkdir()  # in its place: a folder, which no process can lock
    database = Database(database_file, SHORT_BUSY)
    with database.engine.connect() as connection:
        for n in (1, 2):
            with _transaction(connection):
                connection.execute(text("INSERT INTO hits VALUES (0, :n)"), {"n": n})
    database.engine.dispose()
    assert _written(database_file)[1] == 2
    assert any("no writer lock" in record.getMessage() for record in caplog.records)


def test_without_a_lock_file_a_webhook_write_goes_on_within_its_deadline(database_file):
    """No lock to be had is not a deadline run out: with less of the deadline left than the lock timeout,
    the write still goes on (and no breaker is tripped)."""
    from ivr import deadline
    from ivr.breaker import Breaker

    path = database_file.removeprefix("sqlite:///")
    Path(path + writer_lock.SUFFIX).mkdir()
    database = Database(database_file, Limits(lock=5))
    breaker = Breaker(retry_seconds=60)
    with database.engine.connect() as connection:
        deadline.begin(2, breaker)  # 2 s left, under the 5 s lock timeout
        try:
            with _transaction(connection):
                connection.execute(text("INSERT INTO hits VALUES (0, 1)"))
        finally:
            deadline.end()
    database.engine.dispose()
    assert _written(database_file)[1] == 1
    assert breaker.admit() == "use"  # not tripped


@pytest.fixture
def short_deadline(config: dict[str, Any]) -> None:
    """Webhook deadlines of a second, so the test does not wait long."""
    config["WEBHOOK_DEADLINE_SECONDS"] = 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_turn_held_elsewhere_past_the_deadline_fails_the_step_at_its_deadline(
    short_deadline, app, call, session, caplog
):
    menu = call.start()
    lock_file = app.extensions["ivr.db"].engine.url.database + writer_lock.SUFFIX
    holder = os.open(lock_file, os.O_RDWR)  # a description of its own: as another process holding its turn
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        answer = in_thread(lambda: call.press(menu, "1"))
    finally:
        os.close(holder)
    assert is_the_fallback(answer)
    assert any(why.startswith("DatabaseUnavailable: ") for why in failures(caplog)), failures(caplog)
    (record,) = _journaled(app)
    assert (record["kind"], record["params"]["CallSid"]) == ("step", call.sid)
    assert call_row(session, call.sid).node == "language"  # the failed step changed nothing
    app.config["WEBHOOK_DEADLINE_SECONDS"] = 10  # read per request: room on a busy host
    assert not is_the_fallback(call.press(menu, "1"))  # the turn is free again: the call goes on


def _journaled(app: Any) -> list[dict[str, Any]]:
    book = journal(app)
    return [*read(book.replaying), *read(book.path)]
