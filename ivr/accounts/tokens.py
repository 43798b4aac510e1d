"""API bearer tokens: created once and shown once (only their hash is kept), with a role, an optional expiry,
revoked but never deleted (the audit log names them)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiToken
from .roles import scoped_role


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    s: Session,
    name: str,
    desk: str | None = None,
    role: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token's row and value: `role` (default ops, or partner of `desk` when a desk is given),
    valid until `expires_at` (None: until revoked). Only its hash is stored, so show the value now."""
    role = scoped_role(role, desk)
    value = "ivr_" + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=digest(value), desk=desk, role=role, expires_at=expires_at)
    s.add(row)
    s.flush()
    return row, value


def create_token(
    s: Session,
    name: str,
    desk: str | None = None,
    role: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """A new API token's value (issue_token without the row)."""
    return issue_token(s, name, desk, role, expires_at)[1]


def list_tokens(s: Session) -> list[ApiToken]:
    """Every token, revoked and expired ones included, oldest first."""
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(s: Session, ref: str, now: datetime) -> ApiToken:
    """Revoke the token with this id, or the one live token with this name (LookupError when there is none,
    ValueError when the name is ambiguous or the token is already revoked)."""
    if ref.isdigit():
        row = s.get(ApiToken, int(ref))
        if row is None:
            raise LookupError(f"no token with id {ref}")
    else:
        rows = list(s.scalars(select(ApiToken).where(ApiToken.name == ref, ApiToken.revoked_at.is_(None))))
        if not rows:
            raise LookupError(f"no live token named {ref!r}")
        if len(rows) > 1:
            ids = ", ".join(str(r.id) for r in rows)
            raise ValueError(f"{len(rows)} live tokens are named {ref!r} (ids {ids}): revoke one by its id")
        row = rows[0]
    if row.revoked_at is not None:
        raise ValueError(f"token {row.id} ({row.name}) is already revoked")
    row.revoked_at = now
    return row


def token_state(row: ApiToken, now: datetime) -> str:
    """ "live", "expired" or "revoked"."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "live"


def find_token(s: Session, token: str, now: datetime) -> ApiToken | None:
    """The token's row if it exists, is not revoked and has not expired."""
    row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row
