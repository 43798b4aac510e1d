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


def upgrade() -> None:
    """Apply this revision."""
    postgres = op.get_bind().dialect.name == "postgresql"
    column_type = sa.DateTime(timezone=True)
    if postgres:
        op.add_column("calls", sa.Column("updated_at", column_type, nullable=True))
    else:
        op.add_column(
            "calls",
            sa.Column("updated_at", column_type, nullable=False, server_default=sa.text(f"'{EPOCH}'")),
        )
    op.execute("UPDATE calls SET updated_at = COALESCE(ended_at, started_at)")
    if postgres:
        op.alter_column("calls", "updated_at", nullable=False)
    op.create_index("ix_calls_updated_at_id", "calls", ["updated_at", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_calls_updated_at_id", table_name="calls")
    op.drop_column("calls", "updated_at")
