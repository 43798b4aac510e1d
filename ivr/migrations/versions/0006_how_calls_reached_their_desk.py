"""how each call reached its desk: route_strategy, assignment and segment on calls; queued_seconds in the
desk-metric rollups (days built before are read from the calls until rebuilt: definitions version 2)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("route_strategy", 16), ("assignment", 16), ("segment", 255))


def upgrade() -> None:
    """Apply this revision."""
    # plain ADD COLUMN (no batch copy): SQLite would drop the rollup triggers with a copied table
    for name, length in COLUMNS:
        op.add_column("calls", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column(
        "rollup_buckets", sa.Column("queued_seconds", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_column("rollup_buckets", "queued_seconds")
    for name, _length in reversed(COLUMNS):
        op.drop_column("calls", name)
