"""Webhook answers kept for repeated requests (I-Twilio-Idempotency-Token, a repeated incoming call) and the
journal records already replayed into the call log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "webhook_answers",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("answered_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_webhook_answers"),
    )
    op.create_index("ix_webhook_answers_answered_at", "webhook_answers", ["answered_at"])
    op.create_table(
        "journal_replays",
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("replayed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_journal_replays"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("journal_replays")
    op.drop_index("ix_webhook_answers_answered_at", table_name="webhook_answers")
    op.drop_table("webhook_answers")
