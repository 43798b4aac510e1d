"""desk-metric rollups per UTC day, and triggers on calls that mark the days a change touches as dirty

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 22:40:00"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BREAKDOWN_SUMS = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "answered_in_time", "wait_n",
    "wait_sum", "talk_n", "talk_sum", "csat_n", "csat_sum",
)  # fmt: skip
ALL_SUMS = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "answered_in_time", "wait_n",
    "wait_sum", "wait_squares", "talk_n", "talk_sum", "talk_squares", "csat_n", "csat_sum", "csat_squares",
    "csat_top_two", "billed_minutes", "caller_talk_seconds", "agent_seconds",
)  # fmt: skip
# the calls columns the desk metrics read (ivr.metrics.sql)
METRIC_COLUMNS = (
    "started_at, role, from_number, desk, overflow_from, path, queued_at, queue_time, queue_result, "
    "talk_time, survey_score, duration"
)
HISTORY_COLUMNS = "from_number, started_at, role"  # what decides a call's place among its number's calls
# PostgreSQL: every transaction that changes calls holds this advisory lock shared, a day's build holds it
# exclusively (ivr.metrics.rollup.LOCK_KEY), so no change can be in flight, unseen, while a day is built
LOCK_KEY = 0x49565252
POSTGRES_DAY = "(({0}.started_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"

# the date of the stored text ('YYYY-MM-DD HH:MM:SS.ffffff'), as ivr.metrics.sql reads it: strftime('%s')
# would round a time within 0.5 ms of midnight up to the next day
SQLITE_DAY = "CAST(julianday(substr({0}.started_at, 1, 10)) - 2440587.5 AS INTEGER)"
# the day of the call before this one from the same number (a new caller call may make it a repeat)
SQLITE_PREVIOUS = (
    "INSERT INTO rollup_dirty (day) SELECT " + SQLITE_DAY.format("p") + " FROM calls AS p "
    "WHERE {0}.role = 'caller' AND p.role = 'caller' AND p.from_number = {0}.from_number AND p.started_at <= {0}.started_at "
    "AND p.id <> {0}.id ORDER BY p.started_at DESC, p.id DESC LIMIT 1;"
)
SQLITE_OWN = {  # the call's own day (an update: its old and new day, once if the same)
    "NEW": "INSERT INTO rollup_dirty (day) VALUES (" + SQLITE_DAY.format("NEW") + ");",
    "OLD": "INSERT INTO rollup_dirty (day) VALUES (" + SQLITE_DAY.format("OLD") + ");",
    "OLD, NEW": f"INSERT INTO rollup_dirty (day) SELECT {SQLITE_DAY.format('OLD')} "
    f"UNION SELECT {SQLITE_DAY.format('NEW')};",
}
SQLITE_TRIGGERS = {  # name: (event, rows whose own day is dirty, row whose previous call's day is dirty)
    "trg_calls_rollup_insert": ("AFTER INSERT", "NEW", "NEW"),
    "trg_calls_rollup_delete": ("AFTER DELETE", "OLD", "OLD"),
    "trg_calls_rollup_update": (f"AFTER UPDATE OF {METRIC_COLUMNS}", "OLD, NEW", None),
}

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION calls_rollup_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ calls%ROWTYPE;
    day_ integer;
    marked integer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared({LOCK_KEY});
    FOREACH row_ IN ARRAY (CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW] WHEN 'DELETE' THEN ARRAY[OLD]
                                      ELSE ARRAY[OLD, NEW] END) LOOP
        day_ := {POSTGRES_DAY.format("row_")};
        IF day_ IS DISTINCT FROM marked THEN  -- an update within one day: marked once
            INSERT INTO rollup_dirty (day) VALUES (day_);
            marked := day_;
        END IF;
        IF row_.role = 'caller' AND (TG_OP <> 'UPDATE'
                OR (OLD.from_number, OLD.started_at, OLD.role) IS DISTINCT FROM
                   (NEW.from_number, NEW.started_at, NEW.role)) THEN
            INSERT INTO rollup_dirty (day)
            SELECT {POSTGRES_DAY.format("p")} FROM calls AS p
            WHERE p.role = 'caller' AND p.from_number = row_.from_number AND p.started_at <= row_.started_at AND p.id <> row_.id
            ORDER BY p.started_at DESC, p.id DESC LIMIT 1;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER trg_calls_rollup AFTER INSERT OR DELETE OR UPDATE OF {METRIC_COLUMNS}
ON calls FOR EACH ROW EXECUTE FUNCTION calls_rollup_dirty();
"""


def _sums(names: tuple[str, ...]) -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        return
    for name, (event, rows, previous) in SQLITE_TRIGGERS.items():
        body = SQLITE_OWN[rows] + (SQLITE_PREVIOUS.format(previous) if previous else "")
        op.execute(f"CREATE TRIGGER {name} {event} ON calls BEGIN {body} END")
    # an update that moves a call among its number's calls: the calls before its old and new places
    body = SQLITE_PREVIOUS.format("OLD") + SQLITE_PREVIOUS.format("NEW")
    op.execute(f"CREATE TRIGGER trg_calls_rollup_history AFTER UPDATE OF {HISTORY_COLUMNS} ON calls "
               f"BEGIN {body} END")  # fmt: skip


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "rollup_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("short_abandon_seconds", sa.Integer(), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("repeat_days", sa.Integer(), nullable=False),
        sa.Column("definitions_version", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rollup_days")),
    )
    op.create_table(
        "rollup_dirty",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_dirty")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_rollup_dirty_day"), "rollup_dirty", ["day"], unique=False)
    op.create_table(
        "rollup_buckets",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        *_sums(ALL_SUMS),
        sa.PrimaryKeyConstraint("day", "desk", "bucket", name=op.f("pk_rollup_buckets")),
    )
    op.create_table(
        "rollup_paths",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        *_sums(BREAKDOWN_SUMS),
        sa.PrimaryKeyConstraint("day", "desk", "path", name=op.f("pk_rollup_paths")),
    )
    op.create_table(
        "rollup_waits",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("wait", sa.Integer(), nullable=False),
        sa.Column("answered", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "desk", "wait", name=op.f("pk_rollup_waits")),
    )
    op.create_table(
        "rollup_repeats",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("repeated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "desk", name=op.f("pk_rollup_repeats")),
    )
    _create_triggers()
    # every day that already has calls is to be built
    day = SQLITE_DAY.format("calls")
    if op.get_bind().dialect.name == "postgresql":
        day = POSTGRES_DAY.format("calls")
    op.execute(f"INSERT INTO rollup_dirty (day) SELECT DISTINCT {day} FROM calls")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER trg_calls_rollup ON calls")
        op.execute("DROP FUNCTION calls_rollup_dirty()")
    else:
        for name in (*SQLITE_TRIGGERS, "trg_calls_rollup_history"):
            op.execute(f"DROP TRIGGER {name}")
    for table in ("rollup_repeats", "rollup_waits", "rollup_paths", "rollup_buckets", "rollup_dirty",
                  "rollup_days"):  # fmt: skip
        op.drop_table(table)
