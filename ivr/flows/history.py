"""The published versions: who, when, why, what changed, how many calls started on each, and their texts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.loader import Bundle
from ..models import Call, SiteVersion


@dataclass(frozen=True)
class VersionInfo:
    """One published version as the history lists it."""

    id: int
    published_at: datetime
    published_by: str
    note: str
    summary: str
    source: str
    calls_started: int  # callers' calls (inbound and campaign, not agent legs) that started on it
    based_on: int | None
    rolled_back_from: int | None


def newest_version_id(s: Session) -> int | None:
    """The version new calls start on (None when nothing is published yet)."""
    newest: int | None = s.scalar(select(func.max(SiteVersion.id)))
    return newest


def history(s: Session, limit: int | None = None) -> list[VersionInfo]:
    """Every version, newest first (the newest `limit` of them)."""
    query = select(SiteVersion).order_by(SiteVersion.id.desc()).limit(limit)
    rows = list(s.scalars(query))
    counts: dict[int, int] = {}
    if rows:
        started = (
            select(Call.site_version_id, func.count())
            .where(Call.role == "caller", Call.site_version_id.between(rows[-1].id, rows[0].id))
            .group_by(Call.site_version_id)
        )
        counts = {version: count for version, count in s.execute(started).tuples() if version is not None}
    return [
        VersionInfo(
            id=row.id,
            published_at=row.published_at,
            published_by=row.published_by,
            note=row.note,
            summary=row.summary,
            source=row.source,
            calls_started=counts.get(row.id, 0),
            based_on=row.based_on,
            rolled_back_from=row.rolled_back_from,
        )
        for row in rows
    ]


def version_bundle(s: Session, version_id: int) -> Bundle:
    """A version's bundle; LookupError when there is no such version."""
    row = s.get(SiteVersion, version_id)
    if row is None:
        raise LookupError(f"there is no version {version_id}")
    return Bundle.from_json(row.bundle)


def version_texts(s: Session, version_id: int) -> dict[str, str]:
    """A version's documents (file name -> text, as published); LookupError when there is no such version."""
    return dict(version_bundle(s, version_id).texts)


def newest_texts(s: Session) -> tuple[int | None, dict[str, str]]:
    """The newest version's id and documents ((None, {}) when nothing is published yet)."""
    newest = newest_version_id(s)
    return newest, (version_texts(s, newest) if newest is not None else {})
