"""A webhook's reads and writes of the call log behind one interface (`for_dialect`): on PostgreSQL each write
one autocommit statement, on SQLite a short transaction (docs/call-log.md, "How a step is stored")."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, cast, overload

from sqlalchemy import (
    BindParameter,
    Boolean,
    ClauseElement,
    Integer,
    String,
    Table,
    TextClause,
    bindparam,
    literal,
    outerjoin,
    select,
    text,
    true,
)
from sqlalchemy.engine import Connection, Row

from .. import deadline as deadlines
from ..db import BUSY_MS, LIMITS, DatabaseUnavailable, InsertOrSkip, Limits, UTCDateTime, database
from ..engine import LogEntry
from ..engine.params import int_param
from ..models import STATUS_RANK, TERMINAL_STATUSES, WebhookAnswer
from . import driver
from . import log as calllog
from .log import CALLS, CallRef

ANSWERS = cast(Table, WebhookAnswer.__table__)
ANSWER_COLUMNS = ("key", "call_sid", "answered_at", "status", "content_type", "body")


@dataclass(frozen=True)
class Answer:
    """A webhook's answer as kept for repeats (a row of webhook_answers)."""

    key: str
    call_sid: str
    answered_at: datetime
    status: int
    content_type: str
    body: str

    def row(self) -> dict[str, Any]:
        """The row's columns."""
        return {name: getattr(self, name) for name in ANSWER_COLUMNS}


@dataclass(frozen=True)
class Leg:
    """What an agent-line step writes on one leg (a call row): columns to set, then events to log."""

    call_id: int
    values: Mapping[str, Any]
    log: Sequence[LogEntry]


@dataclass(frozen=True)
class Added:
    """A row an effect inserts unless its key is there already (`values` of `table`, every column without a
    server default), and its event, logged after the step's own: `kind` at `node`, with `data` when the row
    went in and `skipped` when its key was there."""

    kind: str
    node: str | None
    table: Table
    values: Mapping[str, Any]
    data: Mapping[str, Any]
    skipped: Mapping[str, Any]


# What a step's effects write after its own log, in order: events, and rows with their event
Effects = Sequence[LogEntry | Added]


@dataclass(frozen=True)
class Kept:
    """An answer kept earlier under this request's repeat key."""

    status: int
    content_type: str
    body: str


@dataclass(frozen=True)
class Found:
    """What a call step reads first: the call (None: not logged yet) and the answer kept for a repeat."""

    call: CallRef | None
    kept: Kept | None


class Written(Enum):
    """What a guarded callback write did: applied, nothing (a repeat of its answer's key), or nothing
    because its guard refused."""

    APPLIED = "applied"
    REPEAT = "repeat"
    REFUSED = "refused"


@dataclass(frozen=True)
class Guard:
    """A conditional UPDATE of another row that a write needs: nothing is written unless it changes (or
    finds) its row. `cte` is it on PostgreSQL, a CTE named `gate` (with RETURNING) run in the write's
    statement; `statement` on SQLite, run first in the write's transaction (a row back: go on)."""

    cte: str
    statement: ClauseElement
    params: Mapping[str, Any]


# The call and the kept answer in one read: a single row whichever of the two exists.
_one = select(literal(1).label("one")).subquery("one")
_call = (
    select(CALLS.c.id, CALLS.c.site_version_id, CALLS.c.node, CALLS.c.variables, CALLS.c.tries, CALLS.c.path)
    .where(CALLS.c.call_sid == bindparam("sid"))
    .subquery("call")
)
_kept = (
    select(ANSWERS.c.status, ANSWERS.c.content_type, ANSWERS.c.body)
    .where(ANSWERS.c.key == bindparam("key"))
    .subquery("kept")
)
READ = select(_call, _kept).select_from(outerjoin(outerjoin(_one, _call, true()), _kept, true()))
KEPT = select(ANSWERS.c.status, ANSWERS.c.content_type, ANSWERS.c.body).where(
    ANSWERS.c.key == bindparam("key")
)
KEEP = InsertOrSkip(ANSWERS, ANSWER_COLUMNS)
KEEP_FIRST = InsertOrSkip(
    ANSWERS, ANSWER_COLUMNS, returning=("key",)
)  # no row back: the key was kept already


class Steps:
    """The interface, and what both dialects share (the reads: one statement each anywhere)."""

    def executor(self, connection: Connection) -> Connection | driver.Runner:
        """What runs a webhook's statements on the held connection: the connection itself."""
        return connection

    def read(self, connection: Connection, sid: str, key: str | None) -> Found:
        """The call with this CallSid and the answer kept under `key`, in one read."""
        run = self.executor(connection)
        row = run.execute(READ, {"sid": sid, "key": key}).one()
        run.commit()
        call = CallRef(*row[:6]) if row[0] is not None else None
        return Found(call, Kept(*row[6:]) if row[6] is not None else None)

    def kept(self, connection: Connection, key: str | None) -> Kept | None:
        """The answer kept under `key`, if this request is a repeat."""
        if key is None:
            return None
        run = self.executor(connection)
        row = run.execute(KEPT, {"key": key}).first()
        run.commit()
        return Kept(*row) if row is not None else None

    def write(
        self,
        connection: Connection,
        call_id: int,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> None:
        """A flow step: set `values` on the call, append its log (made `now`) and what its `effects` write,
        and keep its answer."""
        raise NotImplementedError

    def write_legs(
        self, connection: Connection, legs: Sequence[Leg], now: datetime, answer: Answer | None
    ) -> None:
        """An agent-line step: each leg's `values` set and its log appended (made `now`), in order, with
        the step's answer kept."""
        raise NotImplementedError

    def start(
        self,
        connection: Connection,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> int | None:
        """A new call with its first step (every column in `values`), its log, what its `effects` write and
        its answer; its id, or None when another request logged the call meanwhile (nothing written then)."""
        raise NotImplementedError

    def callback(
        self,
        connection: Connection,
        params: Mapping[str, str],
        logged: calllog.Logged,
        now: datetime,
        answer: Answer | None,
        guard: Guard | None = None,
        effects: Effects = (),
    ) -> Written:
        """A callback that only logs (as `calllog.log_callback`), then what its `effects` write, its answer
        kept; nothing when it is a repeat (of the answer's key) or when its `guard` refuses."""
        raise NotImplementedError

    def status(
        self, connection: Connection, params: Mapping[str, str], now: datetime, answer: Answer | None
    ) -> bool:
        """A status callback applied once (as `calllog.apply_status`) with its answer kept; False when it is
        a repeat (of the answer's key, or of an applied SequenceNumber)."""
        raise NotImplementedError


def _updated(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - calllog.UPDATABLE
    assert values and not unknown, f"not columns to update: {sorted(unknown)}"
    return {**values, "updated_at": calllog.changed_now()}


def _event_rows(call_id: int, log: Iterable[LogEntry], now: datetime) -> list[dict[str, Any]]:
    return [{"call_id": call_id, "at": now, "kind": e.kind, "node": e.node, "data": e.data} for e in log]


class SQLiteSteps(Steps):
    """SQLite: each write a short transaction of its own, the call log's Core statements in it, run on the
    sqlite3 connection by a driver runner (compiled once each: ivr.calls.driver)."""

    def executor(self, connection: Connection) -> driver.Runner:
        """The held connection's driver runner."""
        return driver.runner(connection)

    def write(
        self,
        connection: Connection,
        call_id: int,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> None:
        run = driver.runner(connection)
        with _transaction(connection):
            run.execute(calllog.UPDATE_CALL, {"row_id": call_id, **_updated(values)})
            rows = _event_rows(call_id, [*log, *_effected(run, effects)], now)
            if rows:
                run.execute(calllog.INSERT_EVENTS, rows)
            if answer is not None:
                KEEP.execute(run, answer.row())

    def write_legs(
        self, connection: Connection, legs: Sequence[Leg], now: datetime, answer: Answer | None
    ) -> None:
        run = driver.runner(connection)
        with _transaction(connection):
            for leg in legs:
                if leg.values:
                    run.execute(calllog.UPDATE_CALL, {"row_id": leg.call_id, **_updated(leg.values)})
                rows = _event_rows(leg.call_id, leg.log, now)
                if rows:
                    run.execute(calllog.INSERT_EVENTS, rows)
            if answer is not None:
                KEEP.execute(run, answer.row())

    def start(
        self,
        connection: Connection,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> int | None:
        run = driver.runner(connection)
        with _transaction(connection):
            call_id: int | None = run.execute(calllog.new_call(tuple(values)), dict(values)).scalar()
            if call_id is None:
                return None
            rows = _event_rows(call_id, [*log, *_effected(run, effects)], now)
            if rows:
                run.execute(calllog.INSERT_EVENTS, rows)
            if answer is not None:
                KEEP.execute(run, answer.row())
            return call_id

    def callback(
        self,
        connection: Connection,
        params: Mapping[str, str],
        logged: calllog.Logged,
        now: datetime,
        answer: Answer | None,
        guard: Guard | None = None,
        effects: Effects = (),
    ) -> Written:
        run = driver.runner(connection)
        with _transaction(connection):
            if guard is not None and run.execute(guard.statement, dict(guard.params)).first() is None:
                return Written.REFUSED
            if answer is not None and KEEP_FIRST.execute(run, answer.row()).first() is None:
                return Written.REPEAT
            if effects:
                logged = calllog.Logged(logged.values, [*logged.log, *_effected(run, effects)])
            calllog.log_callback(run, params, logged, now)
            return Written.APPLIED

    def status(
        self, connection: Connection, params: Mapping[str, str], now: datetime, answer: Answer | None
    ) -> bool:
        run = driver.runner(connection)
        with _transaction(connection):
            if answer is not None and KEEP_FIRST.execute(run, answer.row()).first() is None:
                return False
            return calllog.apply_status(run, params, now)


def _effected(run: driver.Runner, effects: Effects) -> list[LogEntry]:
    """The events of a step's effects, in order, each added row inserted first."""
    return [effect if isinstance(effect, LogEntry) else _added(run, effect) for effect in effects]


def _added(run: driver.Runner, added: Added) -> LogEntry:
    """Insert an effect's row unless its key is there; its event, with the data of what happened."""
    went_in = _insert_of(added.table, tuple(added.values)).execute(run, added.values).first() is not None
    return LogEntry(added.kind, added.node, dict(added.data if went_in else added.skipped))


@cache
def _insert_of(table: Table, columns: tuple[str, ...]) -> InsertOrSkip:
    return InsertOrSkip(table, columns, returning=columns[:1])  # no row back: its key was there


@contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    """A transaction of its own on the held connection (a read before it may have begun one: ended), in this
    process's turn at the database file (ivr.writer_lock): taken before, given back after commit or rollback.

    The turn is waited for as long as a lock (the connection's lock timeout), then the transaction goes on
    without it and SQLite's busy timeout decides, as without the lock. In a webhook whose deadline comes
    first the step fails at the deadline (DatabaseUnavailable), as every statement would then.
    """
    if connection.in_transaction():
        connection.commit()
    lock = driver.runner(connection).writer
    limits = connection.info.get(LIMITS)
    wait = (
        limits.busy_ms / 1000 if isinstance(limits, Limits) else connection.info.get(BUSY_MS, 30_000) / 1000
    )
    deadline = deadlines.current()
    if deadline is not None:
        wait = min(wait, 0.0 if deadline.expired else deadline.remaining())
    held = lock is not None and wait > 0 and lock.acquire(wait)
    if not held and deadline is not None and (deadline.expired or deadline.remaining() <= 0):
        # the deadline ran out waiting for the turn (not: no lock file could be had, which is waited for
        # not at all): cut as the watchdog does at this moment, the breaker told
        deadlines.expire(deadline)
        raise DatabaseUnavailable(deadline.reason)
    try:
        with connection.begin():
            yield
    finally:
        if held and lock is not None:
            lock.release()


# -- PostgreSQL ----------------------------------------------------------------------------------------

# The step's events from one JSON array parameter, in its order (call_events.id orders a timeline).
_EVENTS = """
INSERT INTO call_events (call_id, at, kind, node, data)
SELECT {call_id}, :at, e.value ->> 'kind', e.value ->> 'node', {data}
FROM {source} jsonb_array_elements(CAST(:log AS JSONB)) WITH ORDINALITY AS e(value, n) ORDER BY e.n"""
_KEEP = """
INSERT INTO webhook_answers (key, call_sid, answered_at, status, content_type, body)
SELECT :key, :call_sid, :answered_at, :answer_status, :content_type, :body {source}
WHERE CAST(:key AS VARCHAR) IS NOT NULL
ON CONFLICT DO NOTHING"""


# The rows a step's effects add: each one's table and columns (its parameters :a<i>_<column>)
Shape = tuple[tuple[Table, tuple[str, ...]], ...]


def _typed(sql: str, columns: Iterable[str] = (), added: Shape = ()) -> TextClause:
    """A text() statement whose call columns, times, answer and added rows bind with their column types."""
    types = [bindparam(name, type_=CALLS.c[name].type) for name in columns]
    times = [bindparam(name, type_=UTCDateTime()) for name in ("at", "answered_at") if f":{name}" in sql]
    rows = [
        bindparam(f"a{i}_{name}", type_=table.c[name].type)
        for i, (table, names) in enumerate(added)
        for name in names
    ]
    return text(sql).bindparams(*types, *times, *rows)


def _adding(shape: Shape, source: str = "") -> str:
    """A CTE `a<i>` per added row, its INSERT unless its key is there (with a row from `source` only):
    a row back when it went in."""
    ctes = []
    for i, (table, columns) in enumerate(shape):
        params = ", ".join(f":a{i}_{name}" for name in columns)
        ctes.append(
            f"a{i} AS (INSERT INTO {table.name} ({', '.join(columns)}) SELECT {params} {source}\n"
            "  ON CONFLICT DO NOTHING RETURNING 1),\n"
        )
    return "".join(ctes)


def _logging(call_id: str, source: str, shape: Shape) -> str:
    """The INSERT of the step's events (`_EVENTS`), an added row's event with its data or its `skipped`
    as the row `a<i>` went in or not (both in ONE insert: two inserts in one statement have no order)."""
    data, skipped = "e.value -> 'data'", "e.value -> 'skipped'"
    if shape:
        added = "".join(
            f" WHEN '{i}' THEN CASE WHEN EXISTS (SELECT 1 FROM a{i}) THEN {data} ELSE {skipped} END"
            for i in range(len(shape))
        )
        data = f"CASE e.value ->> 'added'{added} ELSE {data} END"
    return _EVENTS.format(call_id=call_id, source=source, data=data)


@cache
def _pg_write(columns: tuple[str, ...], added: Shape = ()) -> TextClause:
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    sql = f"""WITH step AS (UPDATE calls SET {sets} WHERE id = :row_id),
{_adding(added)}logged AS ({_logging(":row_id", "", added)}),
kept AS ({_KEEP.format(source="")})
SELECT 1"""
    return _typed(sql, columns, added)


@cache
def _pg_start(columns: tuple[str, ...], added: Shape = ()) -> TextClause:
    names = ", ".join(columns)
    params = ", ".join(f":{name}" for name in columns)
    sql = f"""WITH made AS (
  INSERT INTO calls ({names}) VALUES ({params}) ON CONFLICT DO NOTHING RETURNING id),
{_adding(added, "FROM made")}logged AS ({_logging("made.id", "made CROSS JOIN", added)}),
kept AS ({_KEEP.format(source="FROM made")})
SELECT id FROM made"""
    return _typed(sql, columns, added)


@dataclass(frozen=True, eq=False)  # one object per shape (cached by its builder): hashed as itself
class Gate:
    """CTEs a PostgreSQL write runs first, one of them `gate`: the write's own parts apply only when the
    gate has a row. `binds` type their parameters; `result` names the columns (after whether the gate
    passed) the statement returns."""

    ctes: str
    binds: tuple[BindParameter[Any], ...] = ()
    result: str = ""


@cache
def _pg_legs(shape: tuple[tuple[str, ...], ...], gate: Gate | None = None) -> TextClause:
    """Each leg's UPDATE (leg i's columns as :l<i>_<column>), every leg's events from one JSON array (each
    with its call_id, in order) and the answer; with a `gate`, only when it has a row."""
    gated = " AND EXISTS (SELECT 1 FROM gate)" if gate is not None else ""
    updates = []
    for i, columns in enumerate(shape):
        sets = ", ".join(f"{name} = :l{i}_{name}" for name in columns)
        updates.append(
            f"u{i} AS (UPDATE calls SET {sets}, updated_at = :updated_at WHERE id = :l{i}_id{gated})"
        )
    events = _logging("CAST(e.value ->> 'call_id' AS BIGINT)", "gate CROSS JOIN" if gate else "", ())
    before = f"{gate.ctes}, " if gate is not None else ""
    result = "(SELECT count(*) FROM gate)" if gate is not None else "1"
    if gate is not None and gate.result:
        result += f", {gate.result}"
    sql = f"""WITH {before}{"".join(u + ", " for u in updates)}logged AS ({events}),
kept AS ({_KEEP.format(source="FROM gate" if gate else "")})
SELECT {result}"""
    typed = [
        bindparam(f"l{i}_{name}", type_=CALLS.c[name].type) for i, cols in enumerate(shape) for name in cols
    ]
    gate_binds = gate.binds if gate is not None else ()
    return _typed(sql, ("updated_at",) if shape else ()).bindparams(*typed, *gate_binds)


def _call_of(gate: str, columns: Sequence[str]) -> str:
    """CTEs `found` (the call with :call_sid, when `gate` has a row), `made` (else the call logged with
    `columns` from their parameters; none when another request logged it meanwhile) and `target` (the
    one of them)."""
    names = ", ".join(columns)
    params = ", ".join(f":{name}" for name in columns)
    return f"""found AS (SELECT id FROM calls WHERE call_sid = :call_sid AND EXISTS (SELECT 1 FROM {gate})),
made AS (
  INSERT INTO calls ({names}) SELECT {params} FROM {gate} WHERE NOT EXISTS (SELECT 1 FROM found)
  ON CONFLICT DO NOTHING RETURNING id),
target AS (SELECT id FROM found UNION ALL SELECT id FROM made)"""


def _first(gate: str = "") -> str:
    """CTEs `kept` (the answer kept) and `first` (a row when its key is new, else a repeat: nothing more
    happens); with a `gate` CTE named, neither has a row unless the gate has one."""
    source = f"FROM {gate}" if gate else ""
    return f"""kept AS ({_KEEP.format(source=source)} RETURNING key),
first AS (SELECT 1 AS ok {source} WHERE CAST(:key AS VARCHAR) IS NULL OR EXISTS (SELECT 1 FROM kept))"""


@cache
def _pg_callback(columns: tuple[str, ...], before: str = "", added: Shape = ()) -> TextClause:
    """A callback that only logs: its call found or logged (a new call gets `columns` in its INSERT, a
    known one in an UPDATE), the rows its effects add, its events from one JSON array, its answer kept;
    with a guard's CTEs `before` (defining `gate`), only when the gate has a row."""
    new = tuple(dict.fromkeys(calllog.NEW_CALL + columns))
    sets = "".join(f"{name} = :{name}, " for name in columns)
    moved = f""",
moved AS (UPDATE calls SET {sets}updated_at = :updated_at WHERE id IN (SELECT id FROM found))"""
    guarded = "(SELECT count(*) FROM gate)" if before else "1"
    events = _logging("target.id", "target CROSS JOIN", added)
    sql = f"""WITH {before + ", " if before else ""}{_first("gate" if before else "")},
{_call_of("first", new)},
{_adding(added, "FROM target")}logged AS ({events}){moved if columns else ""}
SELECT (SELECT count(*) FROM first) AS applied, (SELECT count(*) FROM target) AS logged,
  {guarded} AS guarded"""
    return _typed(sql, new, added)


_STATUS_COLUMNS = calllog.NEW_CALL + ("duration", "ended_at")
# a status's result: whether it applied (not a repeat), and whether its call was found or logged
_STATUS_RESULT = "(SELECT count(*) FROM go) AS applied, (SELECT count(*) FROM target) AS logged"


def status_statement(before: str = "", gate: str = "", after: str = "", result: str = "") -> TextClause:
    """A status callback's one statement: the CTEs `before` (one of them the `gate`: nothing is written
    unless it has a row), the status's own, the CTEs `after` (which may use `go`: applied), and the
    `result` columns after `applied` and `logged`."""
    # fresh: the SequenceNumber is new; a known call gets the rank-guarded status and its first end in ONE
    # update (two updates of one row in one statement would not both apply); an unknown one is logged
    # with them.
    sql = f"""WITH {before + ", " if before else ""}{_first(gate)},
fresh AS (
  INSERT INTO status_callbacks (call_sid, sequence_number, status, received_at)
  SELECT :call_sid, :sequence, :callback_status, :at FROM first WHERE CAST(:sequence AS INTEGER) IS NOT NULL
  ON CONFLICT DO NOTHING RETURNING call_sid),
go AS (SELECT 1 AS ok FROM first WHERE CAST(:sequence AS INTEGER) IS NULL OR EXISTS (SELECT 1 FROM fresh)),
{_call_of("go", _STATUS_COLUMNS)},
logged AS (
  INSERT INTO call_events (call_id, at, kind, node, data)
  SELECT id, :at, 'status', NULL, CAST(:data AS JSONB) FROM target),
moved AS (
  UPDATE calls SET
    status = CASE WHEN status_rank < :rank THEN :callback_status ELSE status END,
    status_rank = CASE WHEN status_rank < :rank THEN :rank ELSE status_rank END,
    duration = CASE WHEN :terminal AND ended_at IS NULL THEN :duration ELSE duration END,
    ended_at = CASE WHEN :terminal AND ended_at IS NULL THEN :ended_at ELSE ended_at END,
    updated_at = :updated_at
  WHERE id IN (SELECT id FROM found) AND (status_rank < :rank OR (:terminal AND ended_at IS NULL))){after}
SELECT {", ".join(filter(None, (_STATUS_RESULT, result)))}"""
    return _typed(sql, _STATUS_COLUMNS).bindparams(
        bindparam("sequence", type_=Integer()),
        bindparam("callback_status", type_=String()),
        bindparam("rank", type_=Integer()),
        bindparam("terminal", type_=Boolean()),
    )


_pg_status = cache(status_statement)


def status_values(params: Mapping[str, str], now: datetime, answer: Answer | None) -> dict[str, Any]:
    """The parameters of a status callback's statement (`status_statement`)."""
    sid = params["CallSid"]
    status = params.get("CallStatus", "")
    sequence = int_param(params.get("SequenceNumber"))
    duration = int_param(params.get("CallDuration"))
    extra = {"answered_by": params["AnsweredBy"]} if "AnsweredBy" in params else {}
    data = {
        "status": status,
        "sequence": sequence,
        "duration": duration,
        "timestamp": params.get("Timestamp"),
    }
    rank = STATUS_RANK.get(status)
    terminal = rank is not None and status in TERMINAL_STATUSES
    ended = (calllog.timestamp(params.get("Timestamp")) or now) if terminal else None
    new = calllog.call_values(params, now) | {
        "duration": duration if terminal else None,
        "ended_at": ended,
    }
    return {
        **_answer_params(answer, sid),
        **new,  # a call logged now gets the status and rank call_values gives it ('ringing' when none)
        "callback_status": calllog.fit(status, CALLS.c.status),
        "sequence": sequence,
        "at": now,
        "data": json.dumps(data | extra),
        "rank": rank,
        "terminal": terminal,
    }


@overload
def logged_once(
    connection: Connection,
    statement: TextClause,
    values: dict[str, Any],
    again: Mapping[str, Any] | None = ...,
) -> tuple[bool, Row[Any]]: ...
@overload
def logged_once(
    connection: driver.Runner,
    statement: TextClause,
    values: dict[str, Any],
    again: Mapping[str, Any] | None = ...,
) -> tuple[bool, tuple[Any, ...]]: ...
def logged_once(
    connection: Connection | driver.Runner,
    statement: TextClause,
    values: dict[str, Any],
    again: Mapping[str, Any] | None = None,
) -> tuple[bool, Row[Any] | tuple[Any, ...]]:
    """Run a callback's statement (`_pg_callback`, `status_statement`): whether it applied (not a repeat),
    and its first run's result row. When another request logged the call between two parts of it, it runs
    again with its answer kept and its sequence seen already (and `again` as well)."""
    row = connection.execute(statement, values).one()
    applied, logged = row[0], row[1]
    if applied and not logged:
        rerun = values | {"key": None, "sequence": None, **(again or {})}
        applied, logged = connection.execute(statement, rerun).one()[:2]
    connection.commit()
    return bool(applied), row


def _answer_params(answer: Answer | None, sid: str) -> dict[str, Any]:
    if answer is None:
        return {"key": None, "call_sid": sid, "answered_at": None, "answer_status": None,
                "content_type": None, "body": None}  # fmt: skip
    row = answer.row()
    row["answer_status"] = row.pop("status")
    return row


def _logged(log: Iterable[LogEntry], effects: Effects) -> tuple[Shape, dict[str, Any]]:
    """The shape of the rows `effects` add (`_adding`), and the parameters of those rows and of the events
    (the step's log, then its effects': an added row's with its index and its `skipped` data)."""
    shape: list[tuple[Table, tuple[str, ...]]] = []
    params: dict[str, Any] = {}
    events: list[dict[str, Any]] = [{"kind": e.kind, "node": e.node, "data": e.data} for e in log]
    for effect in effects:
        event: dict[str, Any] = {"kind": effect.kind, "node": effect.node, "data": dict(effect.data)}
        if isinstance(effect, Added):
            i = len(shape)
            shape.append((effect.table, tuple(effect.values)))
            params.update({f"a{i}_{name}": value for name, value in effect.values.items()})
            event |= {"added": i, "skipped": dict(effect.skipped)}
        events.append(event)
    return tuple(shape), params | {"log": json.dumps(events)}


class PostgreSQLSteps(Steps):
    """PostgreSQL: every write one autocommit statement (the held connection is in autocommit mode), run on
    its psycopg connection (ivr.calls.driver)."""

    def executor(self, connection: Connection) -> driver.Runner:
        """The held connection's runner: its statements skip SQLAlchemy's execution path."""
        return driver.runner(connection)

    def write(
        self,
        connection: Connection,
        call_id: int,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> None:
        updated = _updated(values)
        shape, logged = _logged(log, effects)
        params = {**_answer_params(answer, ""), **updated, "row_id": call_id, "at": now, **logged}
        run = self.executor(connection)
        run.execute(_pg_write(tuple(updated), shape), params)
        run.commit()

    def write_legs(
        self, connection: Connection, legs: Sequence[Leg], now: datetime, answer: Answer | None
    ) -> None:
        self.write_legs_gated(connection, legs, now, answer)

    def write_legs_gated(
        self,
        connection: Connection,
        legs: Sequence[Leg],
        now: datetime,
        answer: Answer | None,
        gate: Gate | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        """`write_legs` after a `gate`'s CTEs (their parameters in `values`): nothing of the legs or the
        answer is written unless the gate has a row. The statement's row: whether it passed (1, or 0),
        then the gate's `result` columns."""
        merged: dict[int, dict[str, Any]] = {}  # a row updated twice in one statement: one update applies
        for leg in legs:
            if leg.values:
                merged.setdefault(leg.call_id, {}).update(leg.values)
        params: dict[str, Any] = {
            **_answer_params(answer, ""),
            **(values or {}),
            "at": now,
            "updated_at": calllog.changed_now(),
        }
        shape = []
        for i, (call_id, changed) in enumerate(merged.items()):
            _updated(changed)  # checks the columns
            shape.append(tuple(changed))
            params[f"l{i}_id"] = call_id
            params.update({f"l{i}_{name}": value for name, value in changed.items()})
        log = [
            {"call_id": leg.call_id, "kind": e.kind, "node": e.node, "data": e.data}
            for leg in legs
            for e in leg.log
        ]
        params["log"] = json.dumps(log)
        run = self.executor(connection)
        row = run.execute(_pg_legs(tuple(shape), gate), params).one()
        run.commit()
        return tuple(row)

    def start(
        self,
        connection: Connection,
        values: Mapping[str, Any],
        log: Iterable[LogEntry],
        now: datetime,
        answer: Answer | None,
        effects: Effects = (),
    ) -> int | None:
        shape, logged = _logged(log, effects)
        params = {**_answer_params(answer, ""), **values, "at": now, **logged}
        run = self.executor(connection)
        call_id: int | None = run.execute(_pg_start(tuple(values), shape), params).scalar()
        run.commit()
        return call_id

    def status(
        self, connection: Connection, params: Mapping[str, str], now: datetime, answer: Answer | None
    ) -> bool:
        return logged_once(self.executor(connection), _pg_status(), status_values(params, now, answer))[0]

    def callback(
        self,
        connection: Connection,
        params: Mapping[str, str],
        logged: calllog.Logged,
        now: datetime,
        answer: Answer | None,
        guard: Guard | None = None,
        effects: Effects = (),
    ) -> Written:
        sid = params["CallSid"]
        shape, events = _logged(logged.log, effects)
        values = {
            **_answer_params(answer, sid),
            **calllog.call_values(params, now),
            **(_updated(logged.values) if logged.values else {}),
            "at": now,
            **events,
            **(guard.params if guard is not None else {}),
        }
        statement = _pg_callback(tuple(logged.values), guard.cte if guard is not None else "", shape)
        applied, row = logged_once(self.executor(connection), statement, values)
        if not row[2]:  # guarded
            return Written.REFUSED
        return Written.APPLIED if applied else Written.REPEAT


@cache
def for_dialect(name: str) -> Steps:
    """The steps of a dialect ('postgresql' or 'sqlite')."""
    return PostgreSQLSteps() if name == "postgresql" else SQLiteSteps()


def held() -> tuple[Steps, Connection]:
    """The current app's steps and this thread's held connection (ivr.db)."""
    db = database()
    return for_dialect(db.engine.dialect.name), db.webhook_connection()
