"""calls.updated_at: when a call's row last changed, for the API's incremental sync (after=, updated_since=);
indexed with id (the sync's order); the calls logged before are backfilled from ended_at, else started_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EPOCH = "1970-01-01 00:00:00.000000"  # SQLite adds a NOT NULL column only with a default; replaced below
BATCH = 20_000  # calls backfilled per transaction on PostgreSQL


def _backfill_in_batches() -> None:
    """PostgreSQL: fill updated_at in short transactions of BATCH rows each, outside the migration's own,
    so webhooks writing calls meanwhile wait at most one batch; then NOT NULL and the index built
    CONCURRENTLY (no lock that blocks writes while it builds)."""
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        last = connection.execute(sa.text("SELECT max(id) FROM calls")).scalar() or 0
        fill = sa.text(
            "UPDATE calls SET updated_at = COALESCE(ended_at, started_at) WHERE id BETWEEN :lo AND :hi"
        )
        for lo in range(0, last + 1, BATCH):
            connection.execute(fill, {"lo": lo, "hi": lo + BATCH - 1})
        op.create_index("ix_calls_updated_at_id", "calls", ["updated_at", "id"], postgresql_concurrently=True)
    op.alter_column("calls", "updated_at", nullable=False)


def upgrade() -> None:
    """Apply this revision."""
    column_type = sa.DateTime(timezone=True)
    if op.get_bind().dialect.name == "postgresql":
        # now() is stable, so adding the column with it as default rewrites no rows (the rows written
        # meanwhile, by a web process not yet restarted, get it too); the batches then set the real value
        op.add_column(
            "calls", sa.Column("updated_at", column_type, nullable=True, server_default=sa.text("now()"))
        )
        _backfill_in_batches()
        return
    op.add_column(
        "calls", sa.Column("updated_at", column_type, nullable=False, server_default=sa.text(f"'{EPOCH}'"))
    )
    op.execute("UPDATE calls SET updated_at = COALESCE(ended_at, started_at)")
    op.create_index("ix_calls_updated_at_id", "calls", ["updated_at", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_calls_updated_at_id", table_name="calls")
    op.drop_column("calls", "updated_at")
