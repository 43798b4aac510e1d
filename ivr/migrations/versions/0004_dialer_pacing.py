"""dialer pacing: each campaign's next free call slot, shared by every dialer worker

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_slot_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("next_slot_at")
