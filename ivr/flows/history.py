"""SHIM (helper D, throwaway): replaced by helper A's ivr/flows/history.py at merge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.loader import Bundle
from ..models import Call, SiteVersion


@dataclass(frozen=True)
class VersionInfo:
    """A version."""

    id: int
    published_at: datetime
    published_by: str
    note: str
    summary: str
    source: str
    calls_started: int
    based_on: int | None
    rolled_back_from: int | None


def history(s: Session, limit: int | None = None) -> list[VersionInfo]:
    """Newest first."""
    rows = list(s.scalars(select(SiteVersion).order_by(SiteVersion.id.desc()).limit(limit)))
    counts = dict(
        s.execute(select(Call.site_version_id, func.count()).group_by(Call.site_version_id)).tuples().all()
    )
    return [
        VersionInfo(
            r.id,
            r.published_at,
            r.published_by,
            r.note,
            r.summary,
            r.source,
            counts.get(r.id, 0),
            r.based_on,
            r.rolled_back_from,
        )  # fmt: skip
        for r in rows
    ]


def version_texts(s: Session, version_id: int) -> dict[str, str]:
    """Texts."""
    row = s.get(SiteVersion, version_id)
    if row is None:
        raise LookupError(f"there is no version {version_id}")
    return Bundle.from_json(row.bundle).texts


def newest_version_id(s: Session) -> int | None:
    """Newest id."""
    found: int | None = s.scalar(select(func.max(SiteVersion.id)))
    return found
