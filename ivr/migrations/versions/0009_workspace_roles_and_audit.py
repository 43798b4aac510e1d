"""The supervisors' workspace: versions with who, note, summary and rollbacks (a digest may repeat); drafts per
owner; roles, disabling and session versions for users; roles, expiry and revocation for tokens; the
append-only audit log (updates and deletes refused by the database). Calls are indexed by version in 0010.

Existing users keep what they could do: a desk makes a partner, the rest become admins. Existing tokens: a
desk makes a partner, the rest become supervisors (they could run campaigns and the do-not-call list, never
manage users). Revoke and recreate them with narrower roles where that is too much.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
APPEND_ONLY = "audit log entries are never changed or removed (append-only)"


def _versions() -> None:
    with op.batch_alter_table("site_versions") as batch:
        batch.drop_constraint("uq_site_versions_digest", type_="unique")
        batch.create_index("ix_site_versions_digest", ["digest"])
        batch.add_column(sa.Column("published_by", sa.String(120), nullable=False, server_default=""))
        batch.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("summary", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("based_on", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rolled_back_from", sa.Integer(), nullable=True))
    op.execute("UPDATE site_versions SET published_by = 'folder'")
    _keep_serving_what_was_served()


def _keep_serving_what_was_served() -> None:
    """Before, the version with the newest published_at was served (a revert renewed an old row's); now it is
    the newest id: when they differ, the served one is copied as the newest version, so callers hear the same."""
    connection = op.get_bind()
    served = connection.execute(
        sa.text("SELECT id FROM site_versions ORDER BY published_at DESC, id DESC LIMIT 1")
    ).scalar()
    newest = connection.execute(sa.text("SELECT max(id) FROM site_versions")).scalar()
    if served is None or served == newest:
        return
    connection.execute(
        sa.text(
            "INSERT INTO site_versions (digest, bundle, published_at, source, published_by, note, summary, "
            "rolled_back_from) SELECT digest, bundle, published_at, source, 'folder', :note, '', id "
            "FROM site_versions WHERE id = :served"
        ),
        {"note": f"version {served}, served before the upgrade, kept as the newest", "served": served},
    )


def _drafts_and_audit() -> None:
    op.create_table(
        "flow_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("document", sa.String(120), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_drafts")),
    )
    op.create_index("ux_flow_drafts_owner_document", "flow_drafts", ["owner", "document"], unique=True)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for change in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{change.lower()} BEFORE {change} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def _accounts() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="ops"))
        batch.add_column(sa.Column("disabled_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE users SET role = CASE WHEN desk IS NULL THEN 'admin' ELSE 'partner' END")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="ops"))
        batch.add_column(sa.Column("expires_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("revoked_at", UTCDateTime, nullable=True))
    op.execute("UPDATE api_tokens SET role = CASE WHEN desk IS NULL THEN 'supervisor' ELSE 'partner' END")


def upgrade() -> None:
    """Apply this revision."""
    _versions()
    _drafts_and_audit()
    _accounts()


def downgrade() -> None:
    """Revert this revision (rolled-back versions that repeat a digest keep only the oldest row)."""
    with op.batch_alter_table("api_tokens") as batch:
        for column in ("revoked_at", "expires_at", "role"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        for column in ("session_version", "disabled_at", "role"):
            batch.drop_column(column)
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")
    op.drop_index("ux_flow_drafts_owner_document", table_name="flow_drafts")
    op.drop_table("flow_drafts")
    op.execute(
        "UPDATE calls SET site_version_id = (SELECT min(o.id) FROM site_versions o JOIN site_versions v "
        "ON o.digest = v.digest WHERE v.id = calls.site_version_id) WHERE site_version_id IS NOT NULL"
    )
    op.execute(
        "DELETE FROM site_versions WHERE id NOT IN (SELECT min(id) FROM site_versions GROUP BY digest)"
    )
    with op.batch_alter_table("site_versions") as batch:
        for column in ("rolled_back_from", "based_on", "summary", "note", "published_by"):
            batch.drop_column(column)
        batch.drop_index("ix_site_versions_digest")
        batch.create_unique_constraint("uq_site_versions_digest", ["digest"])
