"""desks, agents, routing and report columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:34:22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=16), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_pins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_agents_agent_id")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desk", sa.String(length=64), nullable=True))

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), server_default="caller", nullable=False))
        batch_op.add_column(sa.Column("overflow_from", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("path", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("peer_call_sid", sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f("ix_calls_from_number"))
        batch_op.create_index(
            "ix_calls_number_history",
            ["from_number", "started_at", "id", "role", "desk", "queue_result"],
            unique=False,
        )
        batch_op.create_index(
            "ix_calls_overflow_from_started_at", ["overflow_from", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_calls_peer_call_sid"), ["peer_call_sid"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("desk", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("desk")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_peer_call_sid"))
        batch_op.drop_index("ix_calls_overflow_from_started_at")
        batch_op.drop_index("ix_calls_number_history")
        batch_op.create_index(batch_op.f("ix_calls_from_number"), ["from_number"], unique=False)
        batch_op.drop_column("peer_call_sid")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("path")
        batch_op.drop_column("overflow_from")
        batch_op.drop_column("role")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("desk")

    op.drop_table("agents")
