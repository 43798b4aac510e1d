"""Throttles: failures counted per scope and key (sign-in per account and per address, agent PINs per agent,
calling number and line) and the locks they lead to, counted with one atomic statement each.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "throttles",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", UTCDateTime, nullable=False),
        sa.Column("last_failed_at", UTCDateTime, nullable=False),
        sa.Column("locked_until", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_throttles"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("throttles")
