"""Webhooks' statements run on the held connection's sqlite3 or psycopg connection, each compiled once per
set of parameter names; the engine's before_cursor_execute listeners and the webhook's deadline hold them."""

from __future__ import annotations

import itertools
import logging
import random
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql.elements import ClauseElement

from .. import deadline, writer_lock
from ..db import CONFLICT_RETRIES, conflicted

Processor = Callable[[Any], Any]
Params = Mapping[str, Any]
RUNNER = "ivr.runner"  # a connection's info: its Runner
log = logging.getLogger(__name__)


class Bind(NamedTuple):
    """One positional parameter: the caller's value by name (processed), or the statement's own constant."""

    name: str | None  # None: the constant
    processor: Processor | None
    constant: Any = None


@dataclass(frozen=True)
class Plan:
    """A statement compiled for one set of parameter names: what each execution needs."""

    statement: ClauseElement  # kept alive: its id is part of the cache key
    sql: str
    binds: tuple[Bind, ...]
    results: tuple[Processor | None, ...] | None  # None: the rows come back as the driver gives them
    names: tuple[str, ...] | None = None  # a named paramstyle (psycopg's): each bind's name in the SQL

    def values(self, params: Params) -> tuple[Any, ...] | dict[str, Any]:
        """The values of an execution, processed as SQLAlchemy would: positional, or by name."""
        values = [
            constant if name is None else params[name] if processor is None else processor(params[name])
            for name, processor, constant in self.binds
        ]
        return tuple(values) if self.names is None else dict(zip(self.names, values, strict=True))

    def rows(self, fetched: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The driver's rows with each column's result processor applied."""
        if self.results is None:
            return fetched
        processors = self.results
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in fetched
        ]


def compile_plan(statement: ClauseElement, dialect: Dialect, params: Params, many: bool) -> Plan:
    """Compile `statement` as SQLAlchemy would for parameters named as `params`' keys (an UPDATE's SET columns
    come from them)."""
    keys = list(params)
    compiled: Any = statement.compile(dialect=dialect, column_keys=keys, for_executemany=many)
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        raise ValueError(f"give every column a value (a Python default is left to compute): {compiled}")
    expanded = compiled.construct_expanded_state(dict(params))  # an IN list of constants: one bind each
    if set(expanded.parameter_expansion) & set(keys):
        raise ValueError("a parameter expanded per execution (an IN list) cannot be compiled once")
    if compiled.escaped_bind_names:  # SQLAlchemy would rename them in the SQL and in the values
        raise ValueError(f"bind names the paramstyle must escape: {sorted(compiled.escaped_bind_names)}")
    # the binds in the SQL: in their order (positional), or each by name
    order = expanded.positiontup if compiled.positional else list(expanded.parameters)
    inlined = (set(compiled.binds) & set(keys)) - set(order or ())
    if inlined:  # literal_execute: its first value would be written into the SQL for good
        raise ValueError(f"parameters rendered into the SQL cannot be compiled once: {sorted(inlined)}")
    # SQLAlchemy's own processors (what it applies on every execution), those of expanded binds added
    processors: dict[str, Any] = {**compiled._bind_processors, **expanded.processors}
    binds = []
    for name in order or ():
        processor = processors.get(name)
        if name in params:
            binds.append(Bind(name, processor))
        else:
            value = expanded.parameters[name]
            binds.append(Bind(None, None, processor(value) if processor is not None else value))
    results = tuple(entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns)
    names = None if compiled.positional else tuple(order or ())
    return Plan(statement, expanded.statement, tuple(binds), results if any(results) else None, names)


_plans: weakref.WeakKeyDictionary[Dialect, dict[tuple[int, tuple[str, ...], bool], Plan]] = (
    weakref.WeakKeyDictionary()
)


MAX_PLANS = 512  # far more than the webhooks' statements and parameter sets


@dataclass(frozen=True)
class Run:
    """What the driver gives before_cursor_execute listeners for SQLAlchemy's execution context."""

    compiled_now: bool  # the statement was compiled for this execution (else its plan was found)


class Rows:
    """A statement's rows, fetched: what ivr.calls reads of a SQLAlchemy result."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def first(self) -> tuple[Any, ...] | None:
        """The first row, if any."""
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        """The only row (an error when there is none or more)."""
        if len(self.rows) != 1:
            raise NoResultFound("no row") if not self.rows else MultipleResultsFound("more than one row")
        return self.rows[0]

    def scalar(self) -> Any:
        """The first column of the first row, if any."""
        return self.rows[0][0] if self.rows else None

    def all(self) -> list[tuple[Any, ...]]:
        """Every row."""
        return self.rows


class Runner:
    """Runs SQLAlchemy statements on a Connection's driver connection (SQLite's sqlite3, PostgreSQL's
    psycopg); it stands in for the Connection where ivr.calls takes one (execute, commit, dialect).
    Transactions stay the Connection's: sqlite3 begins one at a write, and the Connection's begin()/commit()
    commit it; the webhooks' held connection on PostgreSQL is in autocommit mode (each statement commits)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        driver: Any = connection.connection.dbapi_connection  # sqlite3's or psycopg's connection
        self.driver = driver
        self.guard = deadline.guard(connection.engine)
        url = connection.engine.url
        sqlite = self.dialect.name == "sqlite"
        # this process's turn at SQLite's writes (none on PostgreSQL)
        self.writer = writer_lock.for_sqlite(url.database, url.query) if sqlite else None
        # psycopg's fetchall() fails after a statement without rows (sqlite3's gives none): its status says
        self.rows_status = None if sqlite else self.dialect.loaded_dbapi.pq.ExecStatus.TUPLES_OK
        # psycopg: one cursor for every statement (each execute starts it afresh, after a failure too);
        # sqlite3: one per statement (a cursor left open after a failure may hold the database's lock)
        self.cursor: Any = None if sqlite else driver.cursor()
        self.errors = self.dialect.loaded_dbapi.Error
        self.plans = _plans.setdefault(self.dialect, {})

    def execute(self, statement: ClauseElement, parameters: Params | Sequence[Params] | None = None) -> Rows:
        """Run `statement` with one set of parameters, or each of a list of them (no rows back then)."""
        every: Sequence[Params] = parameters if isinstance(parameters, list | tuple) else ()
        many = bool(every)
        first: Params = every[0] if many else cast(Params, parameters or {})
        key = (id(statement), tuple(first), many)
        plan = self.plans.get(key)
        run = Run(compiled_now=plan is None)
        if plan is None:
            if len(self.plans) >= MAX_PLANS:  # statements built per request would otherwise pile up
                self.plans.clear()
            plan = self.plans[key] = compile_plan(statement, self.dialect, first, many)
        values: Any = [plan.values(p) for p in every] if many else plan.values(first)
        for attempt in itertools.count(1):
            try:
                return self._run(plan, values, many, run)
            except self.errors as error:
                if many or attempt > CONFLICT_RETRIES or not self._autocommit() or not conflicted(error):
                    raise self._failed(error, plan.sql, values, self.cursor) from error
                # PostgreSQL rolled the statement back for a conflict (a deadlock): it wrote nothing, and
                # on its own in autocommit mode it runs again as it was
                log.warning("a statement lost to another transaction (%s): run again", error.sqlstate)
                time.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311  # not for security
        raise AssertionError("unreachable")

    def _run(self, plan: Plan, values: Any, many: bool, run: Run) -> Rows:
        """One execution of a compiled statement (the driver's error raised as it is)."""
        cursor = self.cursor
        try:
            if cursor is None:
                cursor = self.driver.cursor()
            # the engine's before_cursor_execute listeners, as SQLAlchemy calls them (with a Run in place of
            # its execution context): the webhook's deadline (ivr.deadline), and tests' watches
            for listener in self.connection.dispatch.before_cursor_execute:
                listener(self.connection, cursor, plan.sql, values, run, many)
            if many:
                cursor.executemany(plan.sql, values)
                return Rows([])
            cursor.execute(plan.sql, values)
            if self.rows_status is not None and cursor.pgresult.status != self.rows_status:
                return Rows([])
            return Rows(plan.rows(cursor.fetchall()))
        finally:
            if cursor is not None and cursor is not self.cursor:
                cursor.close()

    def _autocommit(self) -> bool:
        """Whether each statement commits on its own (the webhooks' held connection on PostgreSQL)."""
        return getattr(self.driver, "autocommit", None) is True and not self.connection.in_transaction()

    def commit(self) -> None:
        """End what the connection began: the Connection's transaction, or one sqlite3 began at a write."""
        if self.connection.in_transaction():
            self.connection.commit()
            return
        try:
            self.driver.commit()
        except self.errors as error:
            raise self._failed(error, "COMMIT", (), None) from error

    def _failed(self, error: Any, sql: str, values: Any, cursor: Any) -> Exception:
        """A driver error (the DBAPI's Error) as SQLAlchemy raises it; in a webhook the deadline's rule first
        (what its handle_error listener does: an operational failure is DatabaseUnavailable)."""
        if self.guard is not None:
            self.guard.failed(error, self.dialect.is_disconnect(error, self.driver, cursor))
        wrapped: Exception = DBAPIError.instance(sql, values, error, self.errors, dialect=self.dialect)
        return wrapped


def runner(connection: Connection) -> Runner:
    """The runner of a connection (one per connection, kept in its info)."""
    found: Runner | None = connection.info.get(RUNNER)
    if found is None or found.connection is not connection:
        found = connection.info[RUNNER] = Runner(connection)
    return found
