"""API bearer tokens: created once and shown once; only their hash is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiToken


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(s: Session, name: str, desk: str | None = None) -> str:
    """A new API token (a partner's, of `desk`, if given); only its hash is stored, so show it now."""
    token = "ivr_" + secrets.token_urlsafe(32)
    s.add(ApiToken(name=name, token_hash=digest(token), desk=desk))
    return token


def token_desk(s: Session, token: str) -> tuple[bool, str | None]:
    """Whether the token exists, and the desk of a partner's token (None for ops)."""
    found = s.execute(select(ApiToken.desk).where(ApiToken.token_hash == digest(token))).first()
    return (found is not None, found.desk if found is not None else None)


def find_token(s: Session, token: str, now: datetime) -> ApiToken | None:
    """The token's row if it exists, is not revoked and has not expired."""
    row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row
