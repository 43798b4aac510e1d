"""SHIM (helper D, throwaway): replaced by helper A's ivr/flows/publishing.py at merge."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..accounts.audit import Actor, record
from ..engine import Problem, load_documents
from ..models import SiteVersion
from .diffs import DocumentDiff
from .drafts import discard_draft, drafts_of, overlay
from .history import newest_version_id, version_texts


@dataclass(frozen=True)
class Conflict:
    """A conflict."""

    document: str
    base_text: str
    current_text: str
    current_version: int
    diff: DocumentDiff


class PublishRefused(Exception):
    """Refused."""

    def __init__(
        self, message: str, problems: list[Problem] | None = None, conflicts: list[Conflict] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.conflicts = conflicts or []


def publish_texts(
    s: Session,
    texts: Mapping[str, str],
    *,
    note: str,
    actor: Actor,
    now: datetime,
    source: str,
    based_on: int | None,
    changed: Collection[str] | None,
) -> SiteVersion:
    """Publish."""
    bundle, problems = load_documents(texts)
    if bundle is None:
        raise PublishRefused("not published: fix the errors", problems=[p for p in problems])
    newest = newest_version_id(s)
    current = version_texts(s, newest) if newest else {}
    base = version_texts(s, based_on) if based_on else {}
    conflicts = []
    for name in changed or []:
        if (
            newest
            and based_on
            and based_on != newest
            and base.get(name) != current.get(name)
            and texts.get(name) != current.get(name)
        ):
            d = DocumentDiff(name, "changed", base.get(name, ""), current.get(name, ""))
            conflicts.append(Conflict(name, base.get(name, ""), current.get(name, ""), newest, d))
    if conflicts:
        raise PublishRefused("changed meanwhile", conflicts=conflicts)
    if dict(texts) == current:
        raise PublishRefused("nothing to publish: identical to the newest version")
    row = SiteVersion(
        digest=bundle.digest(),
        bundle=bundle.as_json(),
        source=source,
        published_by=actor.name,
        note=note,
        summary="shim summary",
        based_on=based_on,
        published_at=now,
    )
    s.add(row)
    s.flush()
    record(s, actor, "flows.publish", str(row.id), now, note=note)
    return row


def publish_drafts(
    s: Session, owner: str, *, note: str, actor: Actor, now: datetime, source: str
) -> SiteVersion:
    """Publish drafts."""
    drafts = drafts_of(s, owner)
    newest = newest_version_id(s)
    texts = overlay(version_texts(s, newest) if newest else {}, {n: d.text for n, d in drafts.items()})
    row = publish_texts(
        s,
        texts,
        note=note,
        actor=actor,
        now=now,
        source=source,
        based_on=min((d.based_on or 0 for d in drafts.values()), default=None),
        changed=list(drafts),
    )
    for name in drafts:
        discard_draft(s, owner, name)
    return row


def rollback(s: Session, version_id: int, *, note: str, actor: Actor, now: datetime) -> SiteVersion:
    """Roll back."""
    texts = version_texts(s, version_id)
    row = publish_texts(
        s, texts, note=note, actor=actor, now=now, source="rollback", based_on=None, changed=None
    )
    row.rolled_back_from = version_id
    return row
