"""desk-metric rollups per segment and arm (the comparison modes): the sum tables gain (segment, arm) in
their keys, rollup_cells holds each day's sums per desk, segment and arm, and the triggers on calls also
watch route_strategy, assignment and segment. Every day is built again (its old sums are dropped).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BREAKDOWN_SUMS = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "answered_in_time", "wait_n",
    "wait_sum", "talk_n", "talk_sum", "csat_n", "csat_sum",
)  # fmt: skip
ALL_SUMS = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "answered_in_time", "wait_n",
    "wait_sum", "wait_squares", "talk_n", "talk_sum", "talk_squares", "csat_n", "csat_sum", "csat_squares",
    "csat_top_two", "billed_minutes", "caller_talk_seconds", "agent_seconds", "queued_seconds",
)  # fmt: skip
OLD_COLUMNS = (
    "started_at, role, from_number, desk, overflow_from, path, queued_at, queue_time, queue_result, "
    "talk_time, survey_score, duration"
)
METRIC_COLUMNS = OLD_COLUMNS + ", route_strategy, assignment, segment"  # what ivr.metrics.sql reads
SQLITE_DAY = "CAST(julianday(substr({0}.started_at, 1, 10)) - 2440587.5 AS INTEGER)"
POSTGRES_DAY = "(({0}.started_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
# (table, the type of its slice column before the cell, or None, the sums)
TABLES = (
    ("rollup_buckets", ("bucket", sa.BigInteger), ALL_SUMS),
    ("rollup_cells", None, ALL_SUMS),
    ("rollup_paths", ("path", lambda: sa.String(length=255)), BREAKDOWN_SUMS),
    ("rollup_waits", ("wait", sa.Integer), ("answered",)),
    ("rollup_repeats", None, ("repeated",)),
)


def _watch(columns: str) -> None:
    """The update trigger of calls fires on a change to these columns (insert and delete always fire)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER trg_calls_rollup ON calls")
        op.execute(
            f"CREATE TRIGGER trg_calls_rollup AFTER INSERT OR DELETE OR UPDATE OF {columns} ON calls "
            "FOR EACH ROW EXECUTE FUNCTION calls_rollup_dirty()"
        )
        return
    op.execute("DROP TRIGGER trg_calls_rollup_update")
    both = f"SELECT {SQLITE_DAY.format('OLD')} UNION SELECT {SQLITE_DAY.format('NEW')}"
    op.execute(f"CREATE TRIGGER trg_calls_rollup_update AFTER UPDATE OF {columns} ON calls "
               f"BEGIN INSERT INTO rollup_dirty (day) {both}; END")  # fmt: skip


def _create(cells: bool) -> None:
    """The sum tables, with (segment, arm) in their keys, or as before (without rollup_cells)."""
    for table, sliced, sums in TABLES:
        if table == "rollup_cells" and not cells:
            continue
        keys = [
            sa.Column("day", sa.Integer(), nullable=False),
            sa.Column("desk", sa.String(64), nullable=False),
        ]
        if sliced is not None:
            keys.append(sa.Column(sliced[0], sliced[1](), nullable=False))
        if cells:
            keys += [
                sa.Column("segment", sa.String(255), nullable=False),
                sa.Column("arm", sa.String(16), nullable=False),
            ]
        names = [column.name for column in keys]
        op.create_table(
            table,
            *keys,
            *(sa.Column(name, sa.BigInteger(), nullable=False) for name in sums),
            sa.PrimaryKeyConstraint(*names, name=op.f(f"pk_{table}")),
        )


def _rebuild_every_day() -> None:
    """Days are built again from their calls by the next `ivr report rollup`."""
    day = POSTGRES_DAY if op.get_bind().dialect.name == "postgresql" else SQLITE_DAY
    op.execute("DELETE FROM rollup_days")
    op.execute(f"INSERT INTO rollup_dirty (day) SELECT DISTINCT {day.format('calls')} FROM calls")


def upgrade() -> None:
    """Apply this revision."""
    for table, *_ in TABLES:
        if table != "rollup_cells":
            op.drop_table(table)
    _create(cells=True)
    _watch(METRIC_COLUMNS)
    _rebuild_every_day()


def downgrade() -> None:
    """Revert this revision."""
    for table, *_ in TABLES:
        op.drop_table(table)
    _create(cells=False)
    _watch(OLD_COLUMNS)
    _rebuild_every_day()
