"""Desk-metric rollups: per UTC day, the sums a comparison reads, so a long period reads few rows.
Exact whether or not they are up to date, also under concurrent writes (docs/metrics.md, "Rollups")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Table, and_, cast, delete, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from . import sql
from .definitions import BREAKDOWN_SUMS, EVERY_CALL, SPLIT, Cell, DeskSums, MetricSettings, Selection
from .sql import CALLS, Aggregates, Period
from .tables import (
    rollup_buckets,
    rollup_cells,
    rollup_days,
    rollup_dirty,
    rollup_paths,
    rollup_repeats,
    rollup_waits,
)

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROLLUP_SETTINGS = MetricSettings()  # the thresholds days are built under; other thresholds read the calls
# Raise it whenever what a day's sums mean changes (ivr.metrics.definitions, sql): days built before are
# then read from the calls until they are built again.
DEFINITIONS_VERSION = 4  # 3: sums per segment and arm (migration 0007); 4: a caller with an agent is answered
LOCK_KEY = 0x49565252  # PostgreSQL advisory lock; the same number as in migration 0005's trigger
LOCK_WAIT_SECONDS = 2.0  # how long a build tries for the lock before leaving its day for the next round
LOCK_POLL_SECONDS = 0.01
LAST_DAY = (datetime.max.replace(tzinfo=UTC) - EPOCH) // DAY  # 9999-12-31
DayRun = tuple[int, int]  # days [first, last) since 1970-01-01 UTC
# Sliced tables also hold, per slice, the sums of every call under this cell (segment, arm): a report of
# every call reads those rows instead of summing the slice's cells
ALL_CELL = ("", "all")
SUM_TABLES = (rollup_buckets, rollup_cells, rollup_paths, rollup_waits, rollup_repeats)
Chooser = Callable[[dict[str, dict[Cell, DeskSums]]], Selection]  # every call's cells -> the calls selected


def day_of(moment: datetime) -> int:
    """The UTC day (days since 1970-01-01) a moment falls in."""
    return (moment - EPOCH) // DAY


def start_of(day: int) -> datetime:
    """00:00 UTC of a day."""
    return EPOCH + day * DAY


def _runs(days: Iterable[int]) -> list[DayRun]:
    """Sorted days as runs of consecutive days."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1][1] = day + 1
        else:
            runs.append([day, day + 1])
    return [(first, last) for first, last in runs]


def _gaps(since: datetime | None, until: datetime | None, runs: list[DayRun]) -> list[Period]:
    """The parts of [since, until) that the runs of days do not cover (never empty parts)."""
    gaps: list[Period] = []
    cursor = since
    for first, last in runs:
        if cursor is None or cursor < start_of(first):
            gaps.append((cursor, start_of(first)))
        if last > LAST_DAY:  # the run reaches the end of the calendar: nothing comes after it
            return gaps
        cursor = start_of(last)
    if until is None or cursor is None or cursor < until:
        gaps.append((cursor, until))
    return gaps


def _built_as(settings: MetricSettings) -> dict[str, int]:
    """What rollup_days records of how a day was built."""
    return {
        "short_abandon_seconds": settings.short_abandon_seconds,
        "service_level_seconds": settings.service_level_seconds,
        "repeat_days": settings.repeat_days,
        "definitions_version": DEFINITIONS_VERSION,
    }


def clean_days(session: Session, first: int, last: int, settings: MetricSettings) -> list[int]:
    """The days in [first, last) built under these thresholds and definitions, and not dirty since."""
    if settings != ROLLUP_SETTINGS or first >= last:
        return []
    d = rollup_days.c
    stmt = select(d.day).where(
        d.day >= first,
        d.day < last,
        *(d[name] == value for name, value in _built_as(settings).items()),
        ~exists().where(rollup_dirty.c.day == d.day),
    )
    return list(session.scalars(stmt))


def _sum(column: Any) -> Any:
    """SUM as a whole number (PostgreSQL sums bigints as numeric, which reads slower, as Decimal)."""
    return cast(func.sum(column), BigInteger)


def _among(
    table: Table, desks: tuple[str, ...], runs: list[DayRun], selection: Selection | None = None
) -> Any:
    """The rows of the desks over the runs of days; of a sliced table (`selection` given), the rows of the
    selected calls: the every-call rows (ALL_CELL) for every call, else the cells selected."""
    day, c = table.c.day, table.c
    conditions = [c.desk.in_(desks), or_(*(and_(day >= first, day < last) for first, last in runs))]
    if selection == EVERY_CALL:
        conditions.append(c.arm == ALL_CELL[1])
    elif selection is not None:
        conditions.append(c.arm == SPLIT if selection.split_only else c.arm != ALL_CELL[1])
        if selection.segment is not None:
            conditions.append(c.segment == selection.segment)
        if selection.segments is not None:
            conditions.append(c.segment.in_(sorted(selection.segments)))
    return conditions


def read_cells(
    session: Session, desks: tuple[str, ...], runs: list[DayRun]
) -> tuple[dict[str, dict[Cell, DeskSums]], dict[str, dict[Cell, int]]]:
    """Every call's sums and repeats per desk and (segment, arm) over the runs of days, from the rollups."""
    k, r = rollup_cells.c, rollup_repeats.c
    cells: dict[str, dict[Cell, DeskSums]] = {}
    sums = [_sum(k[name]) for name in DeskSums.names()]
    stmt = select(k.desk, k.segment, k.arm, *sums).where(*_among(rollup_cells, desks, runs))
    for desk, segment, arm, *numbers in session.execute(stmt.group_by(k.desk, k.segment, k.arm)).all():
        cells.setdefault(desk, {})[(segment, arm)] = DeskSums(*map(int, numbers))
    repeated: dict[str, dict[Cell, int]] = {}
    stmt = select(r.desk, r.segment, r.arm, _sum(r.repeated)).where(*_among(rollup_repeats, desks, runs))
    for desk, segment, arm, n in session.execute(stmt.group_by(r.desk, r.segment, r.arm)).all():
        repeated.setdefault(desk, {})[(segment, arm)] = int(n)
    return cells, repeated


def read_buckets(
    session: Session, desks: tuple[str, ...], runs: list[DayRun], selection: Selection
) -> dict[str, dict[int, DeskSums]]:
    """The selected calls' sums per desk and 15-minute bucket over the runs of days, from the rollups."""
    b = rollup_buckets.c
    buckets: dict[str, dict[int, DeskSums]] = {}
    sums = [_sum(b[name]) for name in DeskSums.names()]
    stmt = select(b.desk, b.bucket, *sums).where(*_among(rollup_buckets, desks, runs, selection))
    for desk, bucket, *numbers in session.execute(stmt.group_by(b.desk, b.bucket)).all():
        buckets.setdefault(desk, {})[int(bucket)] = DeskSums(*map(int, numbers))
    return buckets


def read(session: Session, desks: tuple[str, ...], runs: list[DayRun], selection: Selection) -> Aggregates:
    """The rollups of the desks over the runs of days: the selected calls' slices, every call's cells."""
    p, w = rollup_paths.c, rollup_waits.c
    buckets = read_buckets(session, desks, runs, selection)
    paths: dict[str, dict[str, DeskSums]] = {}
    sums = [_sum(p[name]) for name in BREAKDOWN_SUMS]
    stmt = select(p.desk, p.path, *sums).where(*_among(rollup_paths, desks, runs, selection))
    for desk, path, *numbers in session.execute(stmt.group_by(p.desk, p.path)).all():
        paths.setdefault(desk, {})[path] = DeskSums(
            **dict(zip(BREAKDOWN_SUMS, map(int, numbers), strict=True))
        )
    waits: dict[str, dict[int, int]] = {}
    stmt = select(w.desk, w.wait, _sum(w.answered)).where(*_among(rollup_waits, desks, runs, selection))
    for desk, wait, answered in session.execute(stmt.group_by(w.desk, w.wait)).all():
        waits.setdefault(desk, {})[int(wait)] = int(answered)
    cells, repeated = read_cells(session, desks, runs)
    return Aggregates(buckets, paths, waits, cells, repeated)


def _call_span(session: Session) -> tuple[datetime | None, datetime | None]:
    """When the first and the last call started (None, None without calls): two index lookups."""
    # two statements: SQLite reads min() or max() from the index only when it is the query's one aggregate
    started = CALLS.c.started_at
    return session.scalar(select(func.min(started))), session.scalar(select(func.max(started)))


def _holds_calls(period: Period, first_call: datetime, last_call: datetime) -> bool:
    """Whether the period overlaps [first_call, last_call] (the rest of time holds no call)."""
    since, until = period
    return (until is None or until > first_call) and (since is None or since <= last_call)


@contextmanager
def one_snapshot(session: Session) -> Iterator[Session]:
    """A read-only session on a connection of its own whose statements all see the same committed state."""
    engine = session.get_bind().engine
    on_postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if on_postgresql:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        else:  # pysqlite opens no transaction for a SELECT: BEGIN holds one snapshot (WAL) until the end
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("BEGIN")
        try:
            with Session(bind=connection) as reader:
                yield reader
        finally:
            if on_postgresql:
                connection.rollback()
            else:
                connection.exec_driver_sql("ROLLBACK")


def aggregate(
    session: Session, desks: tuple[str, ...], since: datetime | None, until: datetime | None,
    settings: MetricSettings, choose: Chooser | Selection = EVERY_CALL,
) -> tuple[Selection, Aggregates]:  # fmt: skip
    """What the comparison needs over [since, until): clean days from the rollups, the rest from the calls.

    `choose` picks the calls selected from every call's cells (or is the selection). Read in one snapshot
    of what is committed, so a build or a change meanwhile cannot be counted twice.
    """
    with one_snapshot(session) as reader:
        return _aggregate(reader, desks, since, until, settings, choose)


def _aggregate(
    session: Session, desks: tuple[str, ...], since: datetime | None, until: datetime | None,
    settings: MetricSettings, choose: Chooser | Selection,
) -> tuple[Selection, Aggregates]:  # fmt: skip
    first_call, last_call = _call_span(session)
    runs: list[DayRun] = []
    rest: list[Period] = []
    if first_call is not None and last_call is not None:
        first_day = day_of(first_call) if since is None else day_of(since) + (start_of(day_of(since)) < since)
        end_day = day_of(last_call) + 1 if until is None else day_of(until)
        runs = _runs(clean_days(session, first_day, end_day, settings))
        rest = [gap for gap in _gaps(since, until, runs) if _holds_calls(gap, first_call, last_call)]
    from_calls = sql.keyed(session, desks, rest, settings) if rest else None
    cells, repeated = read_cells(session, desks, runs) if runs else ({}, {})
    if from_calls is not None:
        cells, repeated = sql.added_up(cells, from_calls.cells()), sql.added_up(repeated, from_calls.repeated)
    selection = choose if isinstance(choose, Selection) else choose(cells)
    found = Aggregates({}, {}, {}, {}, {})
    if runs:
        found = read(session, desks, runs, selection)
    if from_calls is not None:
        found = found.plus(from_calls.selected(selection))
    return selection, found


def _days_to_build(session: Session, rebuild: bool, now: datetime) -> list[int]:
    """Dirty days, days built otherwise, and unbuilt days between built ones up to tomorrow (or all days).

    Filling the days without calls between built ones keeps a report's rest from the calls in one piece.
    """
    dirty = set(session.scalars(select(rollup_dirty.c.day).distinct()))
    d = rollup_days.c
    wanted = tuple(_built_as(ROLLUP_SETTINGS).values())
    columns = [d[name] for name in _built_as(ROLLUP_SETTINGS)]
    built = {day: tuple(how) for day, *how in session.execute(select(d.day, *columns))}
    days = dirty | {day for day, how in built.items() if rebuild or how != wanted}
    known = dirty | set(built)
    if rebuild:
        first, last = _call_span(session)
        known |= {day_of(first), day_of(last)} if first is not None and last is not None else set()
    tomorrow = day_of(now) + 1  # a call dated far ahead is built alone, not with every day up to it
    filled = {day for day in known if day <= tomorrow}
    if filled:
        days |= {day for day in range(min(filled), max(filled) + 1) if rebuild or day not in built}
    return sorted(days)


class BuildPostponed(Exception):
    """Changes to calls kept going for LOCK_WAIT_SECONDS: the day stays dirty for the next refresh."""


def _lock_out_writers(session: Session) -> None:
    """Take the advisory lock exclusively by polling: a build never queues for it, so writers never queue
    behind a waiting build (a queue could close a deadlock with a writer that waits for another's row)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
        if time.monotonic() > deadline:
            raise BuildPostponed(f"calls kept changing for {LOCK_WAIT_SECONDS:g} s")
        time.sleep(LOCK_POLL_SECONDS)


def build_day(session: Session, day: int, now: datetime) -> None:
    """Rebuild one day's rollups from its calls, built `now`, in the session's transaction (caller commits).

    On PostgreSQL it first waits for a moment when no transaction is changing calls (at most
    LOCK_WAIT_SECONDS, else BuildPostponed), then holds new ones back until the caller commits. On SQLite
    it reads the day first and takes the write lock only to replace the day's rows.
    """
    start = start_of(day)
    period: list[Period] = [(start, start + DAY if day < LAST_DAY else None)]
    marks = rollup_dirty.c
    if session.get_bind().dialect.name == "postgresql":
        _lock_out_writers(session)
        # The dirty marks seen now are cleared first, so a mark that appears later is never lost with them.
        session.execute(delete(rollup_dirty).where(marks.day == day))
        found = sql.keyed(session, None, period, ROLLUP_SETTINGS)
    else:
        # SQLite: the day is read before anything is written, so the write lock (which every webhook
        # needs) is held only while the rows are replaced, never while a big day is read. Writers take
        # turns there and mark ids only grow: the marks up to the last one seen before the read are
        # cleared; one made since (a change the read may have missed) keeps the day dirty.
        seen = session.scalar(select(func.max(marks.id))) or 0
        found = sql.keyed(session, None, period, ROLLUP_SETTINGS)
        session.execute(delete(rollup_dirty).where(marks.day == day, marks.id <= seen))
    every = found.selected(EVERY_CALL)
    for table in (*SUM_TABLES, rollup_days):
        session.execute(delete(table).where(table.c.day == day))

    def cell(segment: str, arm: str) -> dict[str, Any]:
        return {"segment": segment, "arm": arm}

    rows: dict[Table, list[dict[str, Any]]] = {
        rollup_buckets: [
            {"day": day, "desk": desk, "bucket": bucket, **cell(segment, arm), **sums._asdict()}
            for desk, slices in found.buckets.items()
            for (bucket, segment, arm), sums in slices.items()
        ]
        + [
            {"day": day, "desk": desk, "bucket": bucket, **cell(*ALL_CELL), **sums._asdict()}
            for desk, slices in every.buckets.items()
            for bucket, sums in slices.items()
        ],
        rollup_cells: [
            {"day": day, "desk": desk, **cell(*key), **sums._asdict()}
            for desk, slices in found.cells().items()
            for key, sums in slices.items()
        ],
        rollup_paths: [
            {
                "day": day,
                "desk": desk,
                "path": path,
                **cell(segment, arm),
                **{name: getattr(sums, name) for name in BREAKDOWN_SUMS},
            }
            for desk, slices in found.paths.items()
            for (path, segment, arm), sums in slices.items()
        ]
        + [
            {
                "day": day,
                "desk": desk,
                "path": path,
                **cell(*ALL_CELL),
                **{name: getattr(sums, name) for name in BREAKDOWN_SUMS},
            }
            for desk, slices in every.paths.items()
            for path, sums in slices.items()
        ],  # fmt: skip
        rollup_waits: [
            {"day": day, "desk": desk, "wait": wait, **cell(segment, arm), "answered": answered}
            for desk, histogram in found.waits.items()
            for (wait, segment, arm), answered in histogram.items()
        ]
        + [
            {"day": day, "desk": desk, "wait": wait, **cell(*ALL_CELL), "answered": answered}
            for desk, histogram in every.waits.items()
            for wait, answered in histogram.items()
        ],
        rollup_repeats: [
            {"day": day, "desk": desk, **cell(*key), "repeated": repeated}
            for desk, cells in found.repeated.items()
            for key, repeated in cells.items()
        ],
        rollup_days: [{"day": day, **_built_as(ROLLUP_SETTINGS), "built_at": now}],
    }
    for table, values in rows.items():
        if values:
            session.execute(insert(table), values)


def refresh(session: Session, now: datetime, rebuild: bool = False) -> list[int]:
    """Build every day that needs it, as of `now` (with rebuild: every day from the first call to the last);
    the days built. A day whose build could not get the lock in time stays dirty for the next refresh."""
    days = _days_to_build(session, rebuild, now)
    session.commit()
    done = []
    for day in days:
        try:
            build_day(session, day, now)
            session.commit()
        except BuildPostponed:
            session.rollback()
            continue
        done.append(day)
    return done
