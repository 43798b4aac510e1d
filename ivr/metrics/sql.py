"""The SQL aggregation behind the desk metrics (the same SQL and the same numbers on SQLite and PostgreSQL).
Each leg is classified once (`leg_class`); rows returned are aggregates, never calls (docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, Float, Table, and_, case, false, func, or_, select, text
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ..models import Call
from .definitions import (
    ABANDONED,
    ABANDONED_RESULT,
    AGENT_LEG,
    AGENT_ROLE,
    ANSWERED,
    ANSWERED_RESULTS,
    BREAKDOWN_SUMS,
    CALLER_ROLE,
    FIELD_SOURCES,
    IN_TIME,
    LATE,
    LEFT,
    LEFT_RESULT,
    NOT_ENTERED,
    OTHER,
    SHORT,
    TOP_TWO_SCORES,
    WITHHELD_NUMBERS,
    DeskSums,
    MetricSettings,
)

CALLS = cast(Table, Call.__table__)
BUCKET_SECONDS = 900  # every time zone's offset is a multiple of 15 minutes
SECONDS_PER_DAY = 86400
NO_PATH = "(none)"
WORK_MEM = "64MB"  # PostgreSQL: enough for the hash aggregates of a large comparison (this transaction only)


class epoch_seconds(FunctionElement[int]):  # lower case, like the SQL function it stands for
    """Whole seconds since 1970-01-01 UTC of a timestamp (floored), the same on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # whole seconds of the stored text: strftime would round a time within 0.5 ms of the next second up
    return f"CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part gives a double: exact for whole seconds, and a microsecond fraction never rounds across one
    return f"CAST(FLOOR(date_part('epoch', {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds)
def _epoch_other(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"epoch_seconds is not defined for {compiler.dialect.name}")


@dataclass(frozen=True)
class Aggregates:
    """What the database returns for the desks over a period."""

    buckets: dict[str, dict[int, DeskSums]]  # desk -> 15-minute bucket (epoch seconds // 900) -> sums
    paths: dict[str, dict[str, DeskSums]]  # desk -> menu path -> sums (caller legs)
    waits: dict[str, dict[int, int]]  # desk -> queue_time of answered calls -> how many
    repeated: dict[str, int]  # desk -> answered calls whose number called again within the window

    def plus(self, other: Aggregates) -> Aggregates:
        """These aggregates and the other's (of other calls), added up."""
        buckets = {desk: dict(slices) for desk, slices in self.buckets.items()}
        paths = {desk: dict(slices) for desk, slices in self.paths.items()}
        _merge(buckets, other.buckets)
        _merge(paths, other.paths)
        waits = {desk: dict(histogram) for desk, histogram in self.waits.items()}
        for desk, histogram in other.waits.items():
            mine = waits.setdefault(desk, {})
            for wait, n in histogram.items():
                mine[wait] = mine.get(wait, 0) + n
        repeated = dict(self.repeated)
        for desk, n in other.repeated.items():
            repeated[desk] = repeated.get(desk, 0) + n
        return Aggregates(buckets=buckets, paths=paths, waits=waits, repeated=repeated)


Period = tuple[datetime | None, datetime | None]  # [since, until); None: open at that end


def _in_periods(table: Any, periods: Iterable[Period]) -> list[ColumnElement[bool]]:
    """started_at within any of the periods (as one condition; none at all for one open period)."""
    alternatives = []
    for since, until in periods:
        bounds = []
        if since is not None:
            bounds.append(table.c.started_at >= since)
        if until is not None:
            bounds.append(table.c.started_at < until)
        if not bounds:
            return []
        alternatives.append(and_(*bounds))
    return [or_(*alternatives)] if alternatives else [false()]


def _of_desks(column: ColumnElement[str | None], desks: tuple[str, ...] | None) -> ColumnElement[bool]:
    """The column names one of the desks (None: any desk)."""
    return column.is_not(None) if desks is None else column.in_(desks)


def leg_class(settings: MetricSettings) -> ColumnElement[int]:
    """The class of a leg (definitions.AGENT_LEG ... NOT_ENTERED) under the report's thresholds."""
    c = CALLS.c
    return case(
        (c.role == AGENT_ROLE, AGENT_LEG),
        (
            c.queue_result.in_(ANSWERED_RESULTS),
            case((c.queue_time <= settings.service_level_seconds, IN_TIME), else_=LATE),
        ),
        (
            c.queue_result == ABANDONED_RESULT,
            case((c.queue_time < settings.short_abandon_seconds, SHORT), else_=ABANDONED),
        ),
        (c.queue_result == LEFT_RESULT, LEFT),
        (c.queue_result.is_not(None) | c.queued_at.is_not(None), OTHER),
        else_=NOT_ENTERED,
    )


def _legs(
    key: ColumnElement[Any], conditions: Iterable[ColumnElement[bool]], settings: MetricSettings
) -> Any:
    """One row per leg: desk, slice key, class and the columns summed (classified once per leg)."""
    c = CALLS.c
    columns = (c.queue_time, c.talk_time, c.survey_score, c.duration)
    # OFFSET 0 keeps both databases from inlining the CASE into every aggregate (it would run 19 times)
    return (
        select(c.desk.label("desk"), key.label("slice"), leg_class(settings).label("leg_class"), *columns)
        .where(*conditions)
        .offset(0)
        .subquery("legs")
    )


def _aggregate(legs: Any, name: str) -> ColumnElement[Any]:
    """The SQL aggregate of one DeskSums field (FIELD_SOURCES says over which classes, of what)."""
    classes, source = FIELD_SOURCES[name]
    what, _, column_name = source.partition(" ")
    among = legs.c.leg_class.in_(classes)
    if what == "legs":
        return func.count().filter(among)
    column = legs.c[column_name]
    if what == "count":
        return func.count(column).filter(among)
    if what == "top_two":
        return func.count().filter(among, column.in_(TOP_TWO_SCORES))
    if what == "squares":  # a double is exact for these whole numbers (< 2**53) and fast in both databases
        value: Any = func.cast(column, Float) * column
    elif what == "started_minutes":  # Twilio bills each started minute: ceil(duration / 60)
        value = (column + 59) // 60
    else:
        value = column
    return func.coalesce(func.sum(value).filter(among), 0)


def _sliced(
    session: Session, key: ColumnElement[Any], conditions: Iterable[ColumnElement[bool]],
    settings: MetricSettings, names: Iterable[str], by_wait: bool = False,
) -> dict[str, dict[Any, DeskSums]]:  # fmt: skip
    """DeskSums (the named fields; the others 0) per desk and slice key.

    With by_wait, per desk and (slice key, wait of answered legs or None): the histogram of waits comes
    out of the same pass.
    """
    legs = _legs(key, conditions, settings)
    keys: list[Any] = [legs.c.desk, legs.c.slice]
    if by_wait:
        keys.append(case((legs.c.leg_class.in_(ANSWERED), legs.c.queue_time)).label("answered_wait"))
    wanted = list(names)
    stmt = select(*keys, *(_aggregate(legs, name) for name in wanted)).group_by(*keys)
    every = tuple(wanted) == DeskSums.names()
    found: dict[str, dict[Any, DeskSums]] = {}
    for desk, *row in session.execute(stmt).all():
        slice_key = tuple(row[: len(keys) - 1]) if by_wait else row[0]
        numbers = map(int, row[len(keys) - 1 :])
        sums = DeskSums(*numbers) if every else DeskSums(**dict(zip(wanted, numbers, strict=True)))
        found.setdefault(desk, {})[slice_key] = sums
    return found


def _split_waits(
    found: dict[str, dict[tuple[str, int | None], DeskSums]],
) -> tuple[dict[str, dict[Any, DeskSums]], dict[str, dict[int, int]]]:
    """Sums per (path, wait) into sums per path and, per desk, answered calls per whole-second wait."""
    paths: dict[str, dict[Any, DeskSums]] = {}
    waits: dict[str, dict[int, int]] = {}
    for desk, slices in found.items():
        per_path: dict[str, list[DeskSums]] = {}
        histogram = waits.setdefault(desk, {})
        for (path, wait), sums in slices.items():
            per_path.setdefault(path, []).append(sums)
            if wait is not None:
                histogram[int(wait)] = histogram.get(int(wait), 0) + sums.wait_n
        paths[desk] = {path: DeskSums.total(many) for path, many in per_path.items()}
    return paths, waits


def _overflowed_out(
    session: Session, key: ColumnElement[Any], desks: tuple[str, ...] | None, periods: Iterable[Period]
) -> dict[str, dict[Any, DeskSums]]:
    """Calls that overflowed out of the desks to another desk, per desk and slice key: offered there."""
    c = CALLS.c
    stmt = (
        select(c.overflow_from, key, func.count())
        .where(
            _of_desks(c.overflow_from, desks),
            c.role != AGENT_ROLE,
            (c.desk.is_(None)) | (c.desk != c.overflow_from),
            *_in_periods(CALLS, periods),
        )
        .group_by(c.overflow_from, key)
    )
    found: dict[str, dict[Any, DeskSums]] = {}
    for desk, slice_key, count in session.execute(stmt):
        found.setdefault(desk, {})[slice_key] = DeskSums(offered=int(count), overflows=int(count))
    return found


def _merge(into: dict[str, dict[Any, DeskSums]], extra: dict[str, dict[Any, DeskSums]]) -> None:
    for desk, slices in extra.items():
        mine = into.setdefault(desk, {})
        for key, sums in slices.items():
            mine[key] = mine[key].plus(sums) if key in mine else sums


def _extended(period: Period, days: int) -> Period:
    """The period with `days` days more at its end (where a repeat of its last calls may start)."""
    since, until = period
    try:
        return since, until + timedelta(days=days) if until is not None else None
    except OverflowError:  # `until` near the end of the calendar: no later call exists anyway
        return since, None


def repeated_calls(
    session: Session, desks: tuple[str, ...] | None, periods: list[Period], days: int
) -> dict[str, int]:
    """Answered calls whose number's next caller call starts within `days` days (whole seconds).

    "Next" is in order of start, then of logging (id) for calls that start in the same microsecond; it
    may be at any desk and after the period. One ordered pass (LEAD) over every caller call of the
    periods, each extended by `days`, which the index on (from_number, started_at, id, role, desk,
    queue_result) covers.
    """
    c = CALLS.c
    ordered = (
        select(
            c.desk,
            c.queue_result,
            c.started_at,
            func.lead(c.started_at)
            .over(partition_by=c.from_number, order_by=(c.started_at, c.id))
            .label("next_started_at"),
        )
        # Only people who called in: a campaign's legs (role 'callee') all come from the campaign's caller ID.
        .where(
            c.role == CALLER_ROLE,
            c.from_number.not_in(WITHHELD_NUMBERS),
            *_in_periods(CALLS, [_extended(period, days) for period in periods]),
        )
        .subquery("ordered_call")
    )
    o = ordered.c
    gap = epoch_seconds(o.next_started_at) - epoch_seconds(o.started_at)
    stmt = (
        select(o.desk, func.count())
        .where(
            _of_desks(o.desk, desks),
            o.queue_result.in_(ANSWERED_RESULTS),
            *_in_periods(ordered, periods),
            gap <= days * SECONDS_PER_DAY,  # NULL (no next call) is not a repeat
        )
        .group_by(o.desk)
    )
    return {desk: int(n) for desk, n in session.execute(stmt)}


def aggregate(
    session: Session, desks: tuple[str, ...] | None, periods: list[Period], settings: MetricSettings
) -> Aggregates:
    """Every aggregate the comparison needs, for the desks (None: every desk) over the periods."""
    if session.get_bind().dialect.name == "postgresql":
        # hash aggregates in memory, and no JIT: compiling costs more than it saves on these queries
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))
    c = CALLS.c
    own = [_of_desks(c.desk, desks), *_in_periods(CALLS, periods)]
    bucket = epoch_seconds(c.started_at) // BUCKET_SECONDS
    path = func.coalesce(c.path, NO_PATH)
    buckets = _sliced(session, bucket, own, settings, DeskSums.names())
    _merge(buckets, _overflowed_out(session, bucket, desks, periods))
    callers = [*own, c.role != AGENT_ROLE]
    paths, waits = _split_waits(_sliced(session, path, callers, settings, BREAKDOWN_SUMS, by_wait=True))
    _merge(paths, _overflowed_out(session, path, desks, periods))
    return Aggregates(
        buckets=buckets,
        paths=paths,
        waits=waits,
        repeated=repeated_calls(session, desks, periods, settings.repeat_days),
    )
