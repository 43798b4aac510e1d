"""A deadline on a webhook's database work: past it, a watchdog cuts the request's connections and every
further statement fails at once (why this way: docs/operations.md, "A deadline on every webhook")."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

from .breaker import Breaker
from .db import BUSY_MS, Database, DatabaseUnavailable, conflicted

log = logging.getLogger(__name__)
EXPIRED = "the webhook's time for the database is up"
SKIPPED = "the database failed a webhook moments ago: answered without it until a probe succeeds"
MIN_CONNECT_SECONDS = 2  # libpq counts a shorter connect_timeout as 2 s


class Deadline:
    """One request's deadline: when it ends and the DBAPI connections its thread holds meanwhile."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.connections: set[Any] = set()
        self.expired = False
        self.done = False
        self.reason = EXPIRED  # why the database is not used any more in this request
        self.used = False  # a connection was checked out
        self.breaker: Breaker | None = None  # the process's, for webhooks
        self.admitted = "use"  # what the breaker said: use, probe or skip the database
        self.held_by: Database | None = None  # whose held connection the request used (see end())

    def remaining(self) -> float:
        """Seconds left (0 when past)."""
        return max(0.0, self.ends - time.monotonic())


_local = threading.local()
_lock = threading.Lock()  # guards every Deadline's connections, expired and done


def current() -> Deadline | None:
    """The deadline of the request this thread serves (None outside a webhook)."""
    found: Deadline | None = getattr(_local, "deadline", None)
    return found


def begin(seconds: float, breaker: Breaker | None = None) -> Deadline:
    """Start this thread's deadline; the watchdog cuts its connections `seconds` from now. With the
    process's breaker open, the request answers without the database from the start."""
    deadline = Deadline(seconds)
    deadline.breaker = breaker
    deadline.admitted = breaker.admit() if breaker is not None else "use"
    if deadline.admitted == "skip":
        deadline.expired, deadline.reason = True, SKIPPED
    _local.deadline = deadline
    _watchdog().watch(deadline)
    return deadline


def _failed(deadline: Deadline) -> None:
    """The database failed this request (error or deadline): no more of it here, and none for a moment in
    the process's other webhooks. Called with _lock held."""
    deadline.expired = True
    if deadline.breaker is not None:
        deadline.breaker.trip()


def end() -> None:
    """End this thread's deadline (the request is answered): nothing of it is cut any more."""
    deadline = current()
    _local.deadline = None
    if deadline is not None:
        with _lock:
            deadline.done = True
            deadline.connections.clear()
            cut_held = deadline.expired and deadline.held_by is not None
            if deadline.breaker is not None and deadline.used and not deadline.expired:
                deadline.breaker.succeed()
            elif deadline.breaker is not None and deadline.admitted == "probe" and not deadline.used:
                deadline.breaker.unprobed()
        if cut_held and deadline.held_by is not None:
            # cut after the request's last statement, too: the next request must not find it dead
            deadline.held_by.drop_webhook_connection()


def cut(dbapi_connection: Any) -> None:
    """Make a DBAPI connection's wait end now: shut a PostgreSQL socket down, interrupt SQLite."""
    try:
        if hasattr(dbapi_connection, "pgconn"):
            fd = dbapi_connection.pgconn.socket
            # a duplicate of the descriptor: shutting it down ends the connection for both, closing it
            # leaves psycopg's own descriptor to psycopg
            with socket.socket(fileno=os.dup(fd)) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        else:
            dbapi_connection.interrupt()
    except Exception:  # closed meanwhile: nothing left to cut
        log.debug("could not cut a connection", exc_info=True)


def expire(deadline: Deadline) -> None:
    """Past the deadline: cut every connection its request holds; later statements fail at once."""
    with _lock:
        if deadline.done or deadline.expired:
            return
        _failed(deadline)
        held = list(deadline.connections)
        for dbapi_connection in held:
            cut(dbapi_connection)
    log.warning("webhook deadline passed: %d database connection(s) cut", len(held))


class Watchdog:
    """One thread per process that expires deadlines when they end (started on first use, after a fork
    too: gunicorn forks its workers)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._pid = -1

    def watch(self, deadline: Deadline) -> None:
        """Expire `deadline` when it ends, unless it is done first."""
        with self._wake:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._heap.clear()
                threading.Thread(target=self._run, name="ivr-deadline", daemon=True).start()
            heapq.heappush(self._heap, (deadline.ends, next(self._order), deadline))
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    if self._heap and self._heap[0][2].done:
                        heapq.heappop(self._heap)
                        continue
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _ends, _order, deadline = heapq.heappop(self._heap)
            expire(deadline)


_watchdogs: list[Watchdog] = []


def _watchdog() -> Watchdog:
    if not _watchdogs:
        _watchdogs.append(Watchdog())
    return _watchdogs[0]


def install(database: Database) -> None:
    """Hold the database's connections to the deadline of the webhook that uses them.

    Connections checked out under a deadline are noted (and forgotten when returned or closed); past it
    every statement and connection attempt raises DatabaseUnavailable at once, and in a webhook every
    operational failure (refused, broken, timed out, locked, interrupted) becomes DatabaseUnavailable.
    """
    engine = database.engine
    database.in_webhook = lambda: current() is not None
    sqlite = engine.dialect.name == "sqlite"
    busy_ms = database.limits.busy_ms

    @event.listens_for(engine, "checkout", insert=True)  # first: before any listener talks to the server
    def _hold(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        deadline = current()
        if deadline is not None:
            if deadline.expired:
                raise DatabaseUnavailable(deadline.reason)
            with _lock:
                deadline.used = True
                if not deadline.done:
                    deadline.connections.add(dbapi_connection)
                    record.info["ivr.deadline"] = deadline

    def _held(dbapi_connection: Any) -> None:
        # a webhook's held connection (ivr.db.Database.webhook_connection) is checked out once, not per
        # request: each request that uses it puts it under its own deadline (end() forgets it again)
        deadline = current()
        if deadline is None:
            return
        with _lock:
            if deadline.expired:
                raise DatabaseUnavailable(deadline.reason)
            deadline.used = True
            if not deadline.done:
                deadline.connections.add(dbapi_connection)
                deadline.held_by = database

    database.on_held_use = _held

    def _release(dbapi_connection: Any, record: Any, *_args: Any) -> None:
        deadline = record.info.pop("ivr.deadline", None) if record is not None else None
        if deadline is not None:
            with _lock:
                deadline.connections.discard(dbapi_connection)

    for name in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):
        event.listen(engine, name, _release)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        deadline = current()
        if deadline is None or sqlite:
            return
        # a connection attempt cannot be cut (its socket is not known yet): it gets what is left of the
        # deadline, in whole seconds and at least libpq's 2
        if deadline.expired:
            raise DatabaseUnavailable(deadline.reason)
        left = max(MIN_CONNECT_SECONDS, int(deadline.remaining()))
        params["connect_timeout"] = min(int(params.get("connect_timeout", left)), left)

    rules = _guards[engine] = Guard(busy_ms if sqlite else None, engine.dialect.loaded_dbapi)

    @event.listens_for(engine, "before_cursor_execute")
    def _execute(connection: Any, cursor: Any, *_args: Any) -> None:
        rules.before(connection.info, cursor.connection)

    @event.listens_for(engine, "handle_error")
    def _unavailable(context: ExceptionContext) -> None:
        rules.failed(context.original_exception, context.is_disconnect)


@dataclass(frozen=True)
class Guard:
    """What install() holds every statement of an engine to, also for statements run on the driver itself
    (ivr.calls.driver)."""

    busy_ms: int | None  # SQLite's busy timeout (None: PostgreSQL)
    dbapi: Any

    def before(self, info: dict[str, Any], dbapi_connection: Any) -> None:
        """Before a statement in a webhook: past the deadline DatabaseUnavailable at once; on SQLite a busy
        wait no longer than what is left of it (the wait in force kept in `info`, the connection's)."""
        deadline = current()
        if deadline is None:
            return
        if deadline.expired:
            raise DatabaseUnavailable(deadline.reason)
        if self.busy_ms is not None:  # a busy wait would outlast the deadline: wait for what is left of it
            wait = max(1, min(self.busy_ms, int(deadline.remaining() * 1000)))
            if info.get(BUSY_MS) != wait:  # usually the lock timeout, already set
                dbapi_connection.execute(f"PRAGMA busy_timeout = {wait}")
                info[BUSY_MS] = wait

    def failed(self, error: BaseException, disconnect: bool) -> None:
        """A statement in a webhook failed: an operational failure or a lost connection raises
        DatabaseUnavailable (the rest of the request answers without the database: no second wait, no
        connection attempt, none of the error path's own statements). A transaction lost to another (a
        deadlock, a serialization failure) does not: it is raised as it is."""
        deadline = current()
        if deadline is None or isinstance(error, DatabaseUnavailable) or conflicted(error):
            return  # a conflict is not the database failing: the driver runs an autocommit statement again
        if disconnect or isinstance(error, (self.dbapi.OperationalError, self.dbapi.InterfaceError)):
            with _lock:
                _failed(deadline)
            raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error


_guards: weakref.WeakKeyDictionary[Engine, Guard] = weakref.WeakKeyDictionary()


def guard(engine: Engine) -> Guard | None:
    """The guard install() put on `engine`'s statements (None: not installed)."""
    return _guards.get(engine)
