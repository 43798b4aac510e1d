"""SQLAlchemy setup: the declarative base, the engine, a session per app context, held webhook connections."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, cast, overload

from flask import Flask, abort, current_app, g, request
from sqlalchemy import (
    JSON,
    BindParameter,
    ClauseElement,
    Column,
    DateTime,
    Insert,
    MetaData,
    Table,
    TextClause,
    bindparam,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone, so it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class DatabaseUnavailable(Exception):
    """The database refused, failed or took too long: answer without it."""


CONFLICTS = frozenset({"40001", "40P01"})  # SQLSTATE: serialization failure, deadlock detected
CONFLICT_RETRIES = 3  # a statement rolled back for a conflict runs again up to this many times


def conflicted(error: BaseException) -> bool:
    """Whether a statement failed only because it lost to another transaction (PostgreSQL rolled its
    transaction back: a deadlock or a serialization failure). An autocommit statement wrote nothing then and
    may be run again; in a transaction, all of the transaction is gone."""
    original = getattr(error, "orig", None) or error  # SQLAlchemy's DBAPIError, or the driver's own error
    return getattr(original, "sqlstate", None) in CONFLICTS


@dataclass(frozen=True)
class Limits:
    """How long a connection may take to open, a statement to run and a lock to be waited for (0: no limit).

    SQLite has no statement timeout; its busy timeout is `lock` (30 s when 0: SQLite needs a finite wait).
    """

    connect: int = 10  # whole seconds (libpq's unit; under 2 counts as 2)
    statement: float = 0
    lock: float = 0

    @property
    def busy_ms(self) -> int:
        """SQLite's busy timeout in milliseconds."""
        return round((self.lock or 30) * 1000)


RECYCLE_SECONDS = 1800  # connections older than this are replaced (the pool's and the webhooks' held ones)
BUSY_MS = "ivr.busy_ms"  # a SQLite connection's info: the busy timeout it has now
LIMITS = "ivr.limits"  # a connection's info: the Limits it was last given
MIGRATIONS = Limits()  # `ivr db upgrade` may run long: no statement or lock timeout
TCP_KEEPALIVE = {  # a peer that vanished is noticed in about a minute, not after the kernel's two hours
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms that sent data may stay unacknowledged before the socket gives up
}


def postgresql_options(url: str, limits: Limits) -> str:
    """libpq `options` setting the limits as the connection's defaults, after any options in `url`."""
    given = make_url(url).query.get("options", "")
    options = [given] if isinstance(given, str) and given else []
    for name, seconds in (("statement_timeout", limits.statement), ("lock_timeout", limits.lock)):
        if seconds:
            options.append(f"-c {name}={round(seconds * 1000)}")
    return " ".join(options)


def make_engine(url: str, limits: Limits = MIGRATIONS) -> Engine:
    """An engine for `url` whose connections keep `limits`; SQLite gets WAL mode, foreign keys and a busy
    timeout, PostgreSQL a connect timeout, TCP keepalives and statement and lock timeouts."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": limits.busy_ms / 1000})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": limits.connect, **TCP_KEEPALIVE}
    options = postgresql_options(url, limits)
    if options:
        connect_args["options"] = options
    # No pre-ping (a round trip per request): a dropped connection fails one request, which answers the
    # fallback TwiML, and SQLAlchemy then replaces the pool's connections.
    return create_engine(
        url, pool_recycle=RECYCLE_SECONDS, pool_size=5, max_overflow=10, connect_args=connect_args
    )


def apply_limits(dbapi_connection: Any, limits: Limits) -> None:
    """Make `limits` the defaults of an idle DBAPI connection (PostgreSQL: one round trip, outside any
    transaction; SQLite: the busy timeout, a local call)."""
    if hasattr(dbapi_connection, "pgconn"):  # psycopg
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(
                f"SET statement_timeout = {round(limits.statement * 1000)};"
                f" SET lock_timeout = {round(limits.lock * 1000)}"
            )
        finally:
            dbapi_connection.autocommit = False
    else:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {limits.busy_ms}")


class Database:
    """One app's engine and session factory.

    The engine's connections open with `limits` (in a web process: the webhooks'). With `others`, a
    connection checked out outside a webhook (pages, the API) gets those instead, and one checked out in a
    webhook gets `limits` back: a round trip only when a connection changes hands between the two.
    """

    def __init__(self, url: str, limits: Limits = MIGRATIONS, others: Limits | None = None) -> None:
        self.engine = make_engine(url, limits)
        self.limits = limits
        self.others = others
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.in_webhook: Callable[[], bool] = lambda: False  # set by ivr.deadline.install
        self.on_held_use: Callable[[Any], None] = lambda _dbapi: None  # set by ivr.deadline.install
        self._held = threading.local()
        self._all_held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._held_lock = threading.Lock()

        sqlite = self.engine.dialect.name == "sqlite"

        @event.listens_for(self.engine, "checkout")
        def _limits(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            wanted = limits if others is None or self.in_webhook() else others
            # SQLite's is set every time (a local call): a webhook shortens it as its deadline nears
            if sqlite or record.info.get(LIMITS, limits) != wanted:
                apply_limits(dbapi_connection, wanted)
                record.info[BUSY_MS] = wanted.busy_ms
                record.info[LIMITS] = wanted

        @event.listens_for(self.engine, "engine_disposed")
        def _disposed(_engine: Engine) -> None:
            self.close_held()

    def webhook_connection(self) -> Connection:
        """This thread's connection for webhooks, held from one request to the next (no Session, no pool
        checkout per request); a new one after a failure (`drop_webhook_connection`) or when it was closed.

        Out of the pool (detached), opened with the webhooks' limits; on PostgreSQL in autocommit mode, so
        that one statement is one round trip and is committed when it returns (ivr.calls.steps).
        """
        held: _Held | None = getattr(self._held, "value", None)
        if held is None or held.connection.closed or held.connection.invalidated or held.old():
            if held is not None:
                held.close()
            held = self._held.value = _Held(self._open_held())
            with self._held_lock:
                self._all_held.add(held)
        self.on_held_use(held.dbapi)
        return held.connection

    def _open_held(self) -> Connection:
        connection = self.engine.connect()
        try:
            if self.engine.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(self.engine.pool, QueuePool):
                connection.detach()  # not the pool's: pages and the API keep its connections for themselves
            # else an in-memory SQLite database (the simulator's tries): its one connection per thread IS the
            # database, shared with the thread's sessions, so it stays the pool's
        except BaseException:
            connection.invalidate()
            connection.close()
            raise
        return connection

    def held_connection(self) -> Connection | None:
        """This thread's held connection if one is open (none is opened, no deadline applies)."""
        held: _Held | None = getattr(self._held, "value", None)
        return held.connection if held is not None and not held.connection.closed else None

    def drop_webhook_connection(self) -> None:
        """Close this thread's held connection (it failed, or was cut): the next request opens a new one."""
        held: _Held | None = getattr(self._held, "value", None)
        self._held.value = None
        if held is not None:
            held.close()  # the pool's (in-memory SQLite) goes back to it: it is the database

    def reset_webhook_connection(self) -> None:
        """After a failure that was not the database's (a broken flow, say): roll back what this thread's
        held connection has open and keep it; closed instead if even that fails (one reconnect, not one per
        failed request)."""
        held: _Held | None = getattr(self._held, "value", None)
        if held is None or held.connection.closed:
            return
        try:
            if held.connection.in_transaction():
                held.connection.rollback()
            if getattr(held.dbapi, "in_transaction", False):  # sqlite3: begun by a statement on the driver
                held.dbapi.rollback()
        except Exception:
            self.drop_webhook_connection()

    def close_held(self) -> None:
        """Close every thread's held connection (the engine is disposed: tests, forks, shutdown)."""
        with self._held_lock:
            every = list(self._all_held)
            self._all_held.clear()
        for held in every:
            held.close()

    def init_app(self, app: Flask) -> None:
        """Register on the app, refuse what the database cannot store, close the session at the end."""
        app.extensions["ivr.db"] = self
        app.before_request(reject_nul)
        app.teardown_appcontext(lambda _exc: close_session())


def _close_quietly(dbapi_connection: Any) -> None:
    try:
        dbapi_connection.close()
    except Exception:  # a cut or dead connection may complain while closing: it is gone either way
        log.debug("closing a held connection failed", exc_info=True)


class _Held:
    """A held connection; closed when its thread ends (its thread-local goes), when it fails, or when the
    engine is disposed. The DBAPI connection is closed by a weakref finalizer: it runs before the garbage
    collector finalizes a cycle (an app dropped without dispose), so psycopg never finds it open then."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dbapi: Any = connection.connection.dbapi_connection
        detached = connection.connection._connection_record is None
        self._close_dbapi = weakref.finalize(self, _close_quietly, self.dbapi) if detached else None
        self._lock = threading.Lock()
        self.opened = time.monotonic()

    def old(self) -> bool:
        """Open longer than the pool keeps its own (a server or a proxy between may end old sessions)."""
        return time.monotonic() - self.opened > RECYCLE_SECONDS

    def close(self) -> None:
        """Close the connection once. The DBAPI connection first: a detached connection that SQLAlchemy
        invalidates is dropped without being closed."""
        with self._lock:
            if self._close_dbapi is not None:
                self._close_dbapi()
            connection = self.connection
            if connection.closed:
                return
            try:
                if self._close_dbapi is not None and not connection.invalidated:
                    connection.invalidate()  # closed already: SQLAlchemy only lets go of it
                connection.close()
            except Exception:
                log.debug("closing a held connection failed", exc_info=True)

    def __del__(self) -> None:
        self.close()


def close_session() -> None:
    """Close the session of the current app context, if one was opened (its connection goes back)."""
    found = g.pop("db_session", None)
    if found is not None:
        found.close()


def reject_nul() -> None:
    """Abort with 400 when the path, query string or form carries a NUL character (PostgreSQL stores none)."""
    values = [request.path, *request.args.keys(), *(v for vs in request.args.listvalues() for v in vs)]
    if request.mimetype == "application/x-www-form-urlencoded":
        request.get_data(cache=True)  # keep the raw body: the voice checks read it after the form
        values += [*request.form.keys(), *(v for vs in request.form.listvalues() for v in vs)]
    if any("\x00" in value for value in values):
        abort(400, "NUL characters are not allowed")


def database() -> Database:
    """The current app's database."""
    found: Database = current_app.extensions["ivr.db"]
    return found


def session() -> Session:
    """The session of the current app context (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    found: Session = g.db_session
    return found


def insert_ignoring_conflicts(bind: Session | Connection, table: Table) -> Insert:
    """An INSERT that skips rows whose unique key exists already (RETURNING then gives no row for them).

    Not cacheable (SQLAlchemy gives the dialects' ON CONFLICT constructs no cache key, so it is compiled on
    every execution): statements that run per request use `InsertOrSkip`.
    """
    if (
        bind.get_bind().dialect.name == "postgresql"
        if isinstance(bind, Session)
        else bind.dialect.name == "postgresql"
    ):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


@dataclass(frozen=True)
class InsertOrSkip:
    """INSERT of `columns` that skips a row whose unique key exists (ON CONFLICT DO NOTHING), optionally
    RETURNING `returning` of the rows inserted; compiled once per dialect into a cacheable `text()`.

    Columns left out get their server default, or their Python default (bound at each execution)."""

    table: Table
    columns: tuple[str, ...]
    returning: tuple[str, ...] = ()

    def statement(self, dialect_name: str) -> TextClause:
        """The statement for a dialect ('postgresql' or 'sqlite'), built on first use."""
        return _insert_or_skip(self, dialect_name)

    def execute(self, bind: Session | Connection | Executor, values: Mapping[str, Any]) -> Rows:
        """Insert one row (every one of `columns` given) unless its key exists."""
        connection = connection_of(bind)
        params = {column.name: _default_of(column) for column in _defaulted(self)} | dict(values)
        return connection.execute(self.statement(connection.dialect.name), params)


@cache
def _defaulted(spec: InsertOrSkip) -> tuple[Column[Any], ...]:
    """The columns left out of `spec` whose default SQLAlchemy computes in Python."""
    left_out = [column for column in spec.table.c if column.name not in spec.columns]
    found = tuple(column for column in left_out if column.default is not None)
    for column in found:
        if not (column.default.is_scalar or column.default.is_callable):  # type: ignore[union-attr]
            raise ValueError(f"{spec.table.name}.{column.name}: give it (its default is SQL, not a value)")
    return found


def _default_of(column: Column[Any]) -> Any:
    default: Any = column.default
    return default.arg if default.is_scalar else default.arg(None)  # callables take an (unused) context


@cache
def _insert_or_skip(spec: InsertOrSkip, dialect_name: str) -> TextClause:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    columns = [spec.table.c[name] for name in spec.columns] + list(_defaulted(spec))
    values: dict[Any, Any] = {c: bindparam(c.name) for c in columns}
    built = dialect.insert(spec.table).values(values).on_conflict_do_nothing()
    if spec.returning:
        built = built.returning(*(spec.table.c[name] for name in spec.returning))
    sql, binds = compiled_text(built, dialect_name)  # the binds typed as their columns
    typed = text(sql).bindparams(*binds)
    if spec.returning:
        return typed.columns(*(spec.table.c[name] for name in spec.returning))  # type: ignore[return-value]
    return typed


def compiled_text(statement: ClauseElement, dialect_name: str) -> tuple[str, tuple[BindParameter[Any], ...]]:
    """A Core statement compiled once for a dialect ('postgresql' or 'sqlite') with `:name` binds, as text()
    reads them (PostgreSQL's `::` casts escaped), and those binds with their types; a value the statement
    fixes is kept as its bind's value. A bind computed at execution (a Python-side default) is refused."""
    dialect = (postgresql if dialect_name == "postgresql" else sqlite).dialect(paramstyle="named")
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    binds = []
    for param, name in compiled.bind_names.items():
        if param.callable is not None:  # a Python-side default such as utcnow: give the column a value
            raise ValueError(f"{name}: a bind computed at execution cannot be compiled once; pass it")
        if param.required:
            binds.append(bindparam(name, type_=param.type))
        else:
            binds.append(bindparam(name, param.value, type_=param.type))
    # text() would read PostgreSQL's `:name::TYPE` casts as part of the name: escaped, they stay casts
    return compiled.string.replace("::", r"\:\:"), tuple(binds)


def embeddable(statement: ClauseElement) -> tuple[str, tuple[BindParameter[Any], ...]]:
    """`compiled_text` for PostgreSQL, to run the statement as a CTE of a text() statement: every value
    must be a named bind, given with the statement's others."""
    sql, binds = compiled_text(statement, "postgresql")
    fixed = sorted(bind.key for bind in binds if not bind.required)
    if fixed:
        raise ValueError(f"{fixed}: values fixed in the statement; give them as named binds")
    return sql, binds


class Rows(Protocol):
    """What is read of a statement's result: a CursorResult, or a driver runner's rows (ivr.calls.driver)."""

    def first(self) -> Any: ...
    def one(self) -> Any: ...
    def scalar(self) -> Any: ...
    def all(self) -> Any: ...


class Executor(Protocol):
    """What runs a statement in place of a Connection: a driver runner (ivr.calls.driver.Runner)."""

    @property
    def dialect(self) -> Dialect: ...
    def execute(self, statement: Any, parameters: Any = None, /) -> Rows: ...


@overload
def connection_of(bind: Session | Connection) -> Connection: ...
@overload
def connection_of(bind: Session | Connection | Executor) -> Connection | Executor: ...
def connection_of(bind: Session | Connection | Executor) -> Connection | Executor:
    """What runs a bind's statements: a Session's connection (in its transaction), else the bind itself."""
    return bind.connection() if isinstance(bind, Session) else bind
