"""calls.site_version_id indexed: the flows history counts the calls that started on each version. On PostgreSQL
built CONCURRENTLY (no lock that blocks webhooks' writes), in a migration of its own so that a failed build
leaves 0009 applied; a run after a failure first drops the invalid index it left.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:15:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "ix_calls_site_version_id"


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
            op.create_index(INDEX, "calls", ["site_version_id"], postgresql_concurrently=True)
    else:
        op.create_index(INDEX, "calls", ["site_version_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(INDEX, table_name="calls")
