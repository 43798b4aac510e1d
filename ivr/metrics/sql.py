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
    EVERY_CALL,
    FIELD_SOURCES,
    IN_TIME,
    LATE,
    LEFT,
    LEFT_RESULT,
    NO_SEGMENT,
    NOT_ENTERED,
    OTHER,
    OTHER_ARM,
    SHORT,
    SPLIT,
    TOP_TWO_SCORES,
    WITHHELD_NUMBERS,
    Cell,
    DeskSums,
    MetricSettings,
    Selection,
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


Sliced = dict[str, dict[Any, DeskSums]]  # desk -> slice key -> sums


def _add(mine: Any, other: Any) -> Any:
    return mine.plus(other) if isinstance(mine, DeskSums) else mine + other


def added_up(
    first: dict[str, dict[Any, Any]], second: dict[str, dict[Any, Any]]
) -> dict[str, dict[Any, Any]]:
    """Two desk -> key -> (sums or counts) maps added up (new dicts; the inputs are left alone)."""
    found = {desk: dict(slices) for desk, slices in first.items()}
    for desk, slices in second.items():
        mine = found.setdefault(desk, {})
        for key, value in slices.items():
            mine[key] = _add(mine[key], value) if key in mine else value
    return found


def _collapsed(found: dict[str, dict[Any, Any]], key: Any) -> dict[str, dict[Any, Any]]:
    """Each desk's values summed per key(old key) (keys for which it gives None are dropped)."""
    result: dict[str, dict[Any, Any]] = {}
    for desk, slices in found.items():
        mine = result.setdefault(desk, {})
        for old, value in slices.items():
            new = key(old)
            if new is not None:
                mine[new] = _add(mine[new], value) if new in mine else value
    return result


@dataclass(frozen=True)
class Aggregates:
    """What a report reads for the desks over a period: the selected calls' slices, and every call's cells."""

    buckets: dict[str, dict[int, DeskSums]]  # desk -> 15-minute bucket (epoch seconds // 900) -> sums
    paths: dict[str, dict[str, DeskSums]]  # desk -> menu path -> sums (caller legs)
    waits: dict[str, dict[int, int]]  # desk -> queue_time of answered calls -> how many
    cells: dict[str, dict[Cell, DeskSums]]  # desk -> (segment, arm) -> sums: every call, whatever selected
    repeated: dict[str, dict[Cell, int]]  # desk -> (segment, arm) -> answered calls repeated in the window

    def plus(self, other: Aggregates) -> Aggregates:
        """These aggregates and the other's (of other calls), added up."""
        return Aggregates(
            *(added_up(mine, theirs) for mine, theirs in zip(_fields(self), _fields(other), strict=True))
        )


def _fields(found: Any) -> list[dict[str, dict[Any, Any]]]:
    return [getattr(found, name) for name in found.__dataclass_fields__]


@dataclass(frozen=True)
class Keyed:
    """The sums per desk and (slice, segment, arm), as a day's rollups hold them."""

    buckets: dict[str, dict[tuple[int, str, str], DeskSums]]
    paths: dict[str, dict[tuple[str, str, str], DeskSums]]
    waits: dict[str, dict[tuple[int, str, str], int]]
    repeated: dict[str, dict[Cell, int]]

    def cells(self) -> dict[str, dict[Cell, DeskSums]]:
        """Every call's sums per desk and (segment, arm)."""
        return _collapsed(self.buckets, lambda key: key[1:])

    def selected(self, selection: Selection) -> Aggregates:
        """The report's aggregates: slices of the selected calls, cells of every call."""

        def of(key: tuple[Any, str, str]) -> Any:
            return key[0] if selection.holds((key[1], key[2])) else None

        return Aggregates(
            buckets=_collapsed(self.buckets, of),
            paths=_collapsed(self.paths, of),
            waits=_collapsed(self.waits, of),
            cells=self.cells(),
            repeated={desk: dict(cells) for desk, cells in self.repeated.items()},
        )


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
        (  # taken by an agent on the agent line and still talking: answered, its wait known at the whisper
            c.queue_result.is_(None) & c.peer_call_sid.is_not(None),
            case((c.queue_time <= settings.service_level_seconds, IN_TIME), else_=LATE),
        ),
        (c.queue_result.is_not(None) | c.queued_at.is_not(None), OTHER),
        else_=NOT_ENTERED,
    )


def segment_of(table: Any = CALLS) -> ColumnElement[str]:
    """A leg's segment: its `segment`, or '(none)'."""
    return func.coalesce(table.c.segment, NO_SEGMENT)


def arm_of(table: Any = CALLS, at_own_desk: bool = True) -> ColumnElement[str]:
    """A leg's arm, 'split' or 'other', by intention to treat (CONTRACT: a split call is the chosen desk's).

    At its own desk a split leg counts as split unless an overflow sent it there (it is then the
    overflow_from desk's split call, counted there by `_overflowed_out` with at_own_desk=False).
    """
    c = table.c
    split = c.assignment == SPLIT
    if at_own_desk:
        split = and_(split, or_(c.overflow_from.is_(None), c.overflow_from == c.desk))
    return case((split, SPLIT), else_=OTHER_ARM)


def _legs(
    keys: list[ColumnElement[Any]], conditions: Iterable[ColumnElement[bool]], settings: MetricSettings
) -> Any:
    """One row per leg: desk, slice keys, class and the columns summed (classified once per leg)."""
    c = CALLS.c
    columns = (c.queue_time, c.talk_time, c.survey_score, c.duration)
    labelled = [key.label(f"key{i}") for i, key in enumerate(keys)]
    # OFFSET 0 keeps both databases from inlining the CASE into every aggregate (it would run 19 times)
    return (
        select(c.desk.label("desk"), *labelled, leg_class(settings).label("leg_class"), *columns)
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
    session: Session, keys: list[ColumnElement[Any]], conditions: Iterable[ColumnElement[bool]],
    settings: MetricSettings, names: Iterable[str], by_wait: bool = False,
) -> Sliced:  # fmt: skip
    """DeskSums (the named fields; the others 0) per desk and tuple of keys.

    With by_wait the tuple ends with the wait of answered legs (or None): the histogram of waits comes out
    of the same pass.
    """
    legs = _legs(keys, conditions, settings)
    groups: list[Any] = [legs.c.desk, *(legs.c[f"key{i}"] for i in range(len(keys)))]
    if by_wait:
        groups.append(case((legs.c.leg_class.in_(ANSWERED), legs.c.queue_time)).label("answered_wait"))
    wanted = list(names)
    stmt = select(*groups, *(_aggregate(legs, name) for name in wanted)).group_by(*groups)
    every = tuple(wanted) == DeskSums.names()
    found: Sliced = {}
    width = len(groups) - 1
    for desk, *row in session.execute(stmt).all():
        numbers = map(int, row[width:])
        sums = DeskSums(*numbers) if every else DeskSums(**dict(zip(wanted, numbers, strict=True)))
        found.setdefault(desk, {})[tuple(row[:width])] = sums
    return found


def _split_waits(found: Sliced) -> tuple[Sliced, dict[str, dict[Any, int]]]:
    """Sums per (path, segment, arm, wait) into sums per (path, segment, arm) and answered calls per
    (whole-second wait, segment, arm)."""
    paths: Sliced = {}
    waits: dict[str, dict[Any, int]] = {}
    for desk, slices in found.items():
        per_path: dict[Any, list[DeskSums]] = {}
        histogram = waits.setdefault(desk, {})
        for (path, segment, arm, wait), sums in slices.items():
            per_path.setdefault((path, segment, arm), []).append(sums)
            if wait is not None:
                key = (int(wait), segment, arm)
                histogram[key] = histogram.get(key, 0) + sums.wait_n
        paths[desk] = {key: DeskSums.total(many) for key, many in per_path.items()}
    return paths, waits


def _overflowed_out(
    session: Session, key: ColumnElement[Any], desks: tuple[str, ...] | None, periods: Iterable[Period]
) -> Sliced:
    """Calls that overflowed out of the desks to another desk, per desk and (slice key, segment, arm):
    offered there, in the arm of the row's assignment."""
    c = CALLS.c
    keys = (key, segment_of(), arm_of(at_own_desk=False))
    stmt = (
        select(c.overflow_from, *keys, func.count())
        .where(
            _of_desks(c.overflow_from, desks),
            c.role != AGENT_ROLE,
            (c.desk.is_(None)) | (c.desk != c.overflow_from),
            *_in_periods(CALLS, periods),
        )
        .group_by(c.overflow_from, *keys)
    )
    found: Sliced = {}
    for desk, *slice_key, count in session.execute(stmt):
        found.setdefault(desk, {})[tuple(slice_key)] = DeskSums(offered=int(count), overflows=int(count))
    return found


def _extended(period: Period, days: int) -> Period:
    """The period with `days` days more at its end (where a repeat of its last calls may start)."""
    since, until = period
    try:
        return since, until + timedelta(days=days) if until is not None else None
    except OverflowError:  # `until` near the end of the calendar: no later call exists anyway
        return since, None


def repeated_calls(
    session: Session, desks: tuple[str, ...] | None, periods: list[Period], days: int
) -> dict[str, dict[Cell, int]]:
    """Answered calls whose number's next caller call starts within `days` days (whole seconds), per desk
    and (segment, arm) of the answered call.

    "Next" is in order of start, then of logging (id) for calls that start in the same microsecond; it
    may be at any desk and after the period. One ordered pass (LEAD) over every caller call of the
    periods, each extended by `days`, along the index on (from_number, started_at, id, role, desk,
    queue_result); only the repeated calls are then looked up by id for their segment and arm.
    """
    c = CALLS.c
    ordered = (
        select(
            c.id,
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
    repeated = (
        select(o.id)
        .where(
            _of_desks(o.desk, desks),
            o.queue_result.in_(ANSWERED_RESULTS),
            *_in_periods(ordered, periods),
            gap <= days * SECONDS_PER_DAY,  # NULL (no next call) is not a repeat
        )
        .subquery("repeated_call")
    )
    answered = CALLS.alias("answered_call")
    keys = (answered.c.desk, segment_of(answered), arm_of(answered))
    stmt = (
        select(*keys, func.count())
        .join_from(repeated, answered, answered.c.id == repeated.c.id)
        .group_by(*keys)
    )
    found: dict[str, dict[Cell, int]] = {}
    for desk, segment, arm, n in session.execute(stmt):
        found.setdefault(desk, {})[(segment, arm)] = int(n)
    return found


def keyed(
    session: Session, desks: tuple[str, ...] | None, periods: list[Period], settings: MetricSettings
) -> Keyed:
    """Every sum the comparison needs per (slice, segment, arm), for the desks (None: every desk) over the
    periods: what a day's rollups hold, and what a report reads from the calls."""
    if session.get_bind().dialect.name == "postgresql":
        # hash aggregates in memory, and no JIT: compiling costs more than it saves on these queries
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))
    c = CALLS.c
    own = [_of_desks(c.desk, desks), *_in_periods(CALLS, periods)]
    bucket = epoch_seconds(c.started_at) // BUCKET_SECONDS
    path = func.coalesce(c.path, NO_PATH)
    cell = [segment_of(), arm_of()]
    buckets = added_up(
        _sliced(session, [bucket, *cell], own, settings, DeskSums.names()),
        _overflowed_out(session, bucket, desks, periods),
    )
    callers = [*own, c.role != AGENT_ROLE]
    paths, waits = _split_waits(
        _sliced(session, [path, *cell], callers, settings, BREAKDOWN_SUMS, by_wait=True)
    )
    return Keyed(
        buckets=buckets,
        paths=added_up(paths, _overflowed_out(session, path, desks, periods)),
        waits=waits,
        repeated=repeated_calls(session, desks, periods, settings.repeat_days),
    )


def aggregate(
    session: Session, desks: tuple[str, ...] | None, periods: list[Period], settings: MetricSettings,
    selection: Selection = EVERY_CALL,
) -> Aggregates:  # fmt: skip
    """The report's aggregates from the calls: the selected calls' slices and every call's cells."""
    return keyed(session, desks, periods, settings).selected(selection)


def totals(session: Session, desk: str, since: datetime, settings: MetricSettings) -> DeskSums:
    """One desk's sums over every call started since `since` (no slices: what the live wallboard reads);
    the same classes and the same overflow rule as a report, in two grouped reads."""
    c = CALLS.c
    own = [c.desk == desk, *_in_periods(CALLS, [(since, None)])]
    found = added_up(
        _sliced(session, [], own, settings, DeskSums.names()),
        _overflowed_out(session, c.overflow_from, (desk,), [(since, None)]),
    )
    return DeskSums.total(found.get(desk, {}).values())
