"""Do-not-call removals kept (who, when, why, the entry as it was); agents' wrong PINs counted in `throttles`.

`agents.failed_pins` and `agents.locked_until` are dropped: wrong PINs are now counted per agent, calling
number and line by accounts.throttle. A lock in force at upgrade time (15 minutes at most) is not carried
over. PINs now need 6 digits; existing hashes cannot tell their length, so `short_pin` starts unknown (NULL)
and is set at the agent's next sign-in. Agents with short PINs still sign in: `ivr agent list` flags them and
`ivr agent expire-pin --short` makes them ask for a new PIN (docs/desks.md, "The agent line").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)
BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "do_not_call_removals",
        sa.Column("id", BigID, nullable=False, autoincrement=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=False),
        sa.Column("removed_by", sa.String(120), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_do_not_call_removals"),
    )
    op.create_index("ix_do_not_call_removals_phone", "do_not_call_removals", ["phone"])
    op.create_index("ix_do_not_call_removals_removed_at", "do_not_call_removals", ["removed_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("short_pin", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("pin_expired", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_column("failed_pins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("failed_pins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", UTCDateTime, nullable=True))
        batch.drop_column("pin_expired")
        batch.drop_column("short_pin")
    op.drop_index("ix_do_not_call_removals_removed_at", table_name="do_not_call_removals")
    op.drop_index("ix_do_not_call_removals_phone", table_name="do_not_call_removals")
    op.drop_table("do_not_call_removals")
