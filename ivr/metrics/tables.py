"""The desk-metric rollup tables: per UTC day, the sums a comparison reads (built by ivr.metrics.rollup)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ..db import Base, UTCDateTime
from ..models import BigID
from .definitions import BREAKDOWN_SUMS, DeskSums


# Desk-metric rollups (ivr.metrics.rollup): per UTC day, the same sums the comparison would read from the
# calls, kept so a report over months reads thousands of rows, not millions. A day is used only while it
# is built (rollup_days, under the thresholds there) and not dirty (rollup_dirty, filled by triggers on
# calls: see migration 0005).
def _sums(names: tuple[str, ...]) -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False, default=0) for name in names]


def _cell() -> list[Column[str]]:
    """The (segment, arm) a row sums: COALESCE(calls.segment, '(none)'), and 'split' or 'other'."""
    return [Column("segment", String(255), primary_key=True), Column("arm", String(16), primary_key=True)]


rollup_days = Table(
    "rollup_days",
    Base.metadata,
    Column("day", Integer, primary_key=True),  # days since 1970-01-01 UTC
    Column("short_abandon_seconds", Integer, nullable=False),
    Column("service_level_seconds", Integer, nullable=False),
    Column("repeat_days", Integer, nullable=False),
    Column("definitions_version", Integer, nullable=False),  # ivr.metrics.rollup.DEFINITIONS_VERSION
    Column("built_at", UTCDateTime, nullable=False),
)
rollup_dirty = Table(
    "rollup_dirty",
    Base.metadata,
    Column("id", BigID, primary_key=True),
    Column("day", Integer, nullable=False, index=True),
    sqlite_autoincrement=True,
)
rollup_buckets = Table(
    "rollup_buckets",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # epoch seconds // 900
    *_cell(),
    *_sums(DeskSums.names()),
)
rollup_cells = Table(  # rollup_buckets summed over the day's buckets: what a mode's totals read
    "rollup_cells",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("desk", String(64), primary_key=True),
    *_cell(),
    *_sums(DeskSums.names()),
)
rollup_paths = Table(
    "rollup_paths",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("path", String(255), primary_key=True),
    *_cell(),
    *_sums(BREAKDOWN_SUMS),
)
rollup_waits = Table(
    "rollup_waits",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("wait", Integer, primary_key=True),
    *_cell(),
    Column("answered", BigInteger, nullable=False),
)
rollup_repeats = Table(
    "rollup_repeats",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("desk", String(64), primary_key=True),
    *_cell(),
    Column("repeated", BigInteger, nullable=False),
)
