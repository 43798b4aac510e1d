"""Publishing a site version: validated, never over someone else's change, noted, summarised and audited.
The audit entry is written with the model: ivr.accounts is above ivr.flows, so `record` is out of reach."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..engine.loader import Bundle, load_documents
from ..engine.problems import Problem, errors
from ..models import AuditEntry, SiteVersion
from .changes import changes
from .diffs import DocumentDiff, document_diffs
from .drafts import drafts_of, overlay

PUBLISH_LOCK = 0x49565246  # pg_advisory_xact_lock: one publish at a time, so no two can both be "newest"
PUBLISHED = "ivr.flows.published"  # set in session.info; the FlowStore serves the new version on commit


class ActorLike(Protocol):
    """Who publishes (ivr.accounts.audit.Actor): a name and the address they came from."""

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> str: ...


@dataclass(frozen=True)
class Conflict:
    """A document someone else published a change to since the publisher's base version."""

    document: str
    base_text: str | None  # the text the publisher started from (None: it did not exist)
    current_text: str | None  # the newest version's (None: removed meanwhile)
    current_version: int | None
    diff: DocumentDiff  # base -> current: what changed meanwhile


class PublishRefused(Exception):
    """Nothing was published: errors in the documents, conflicts, no note, or nothing to publish."""

    def __init__(
        self, message: str, *, problems: Collection[Problem] = (), conflicts: Collection[Conflict] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.conflicts = list(conflicts)


class NothingToPublish(PublishRefused):
    """The documents are those of the newest version already."""


WORKSPACE_SOURCES = frozenset({"browser", "api", "rollback"})  # any other source is a folder's path


def publish_texts(
    s: Session,
    documents: Mapping[str, str | None],
    *,
    note: str,
    actor: ActorLike,
    now: datetime,
    source: str,
    based_on: int | None,
    changed: Collection[str] | None = None,
) -> SiteVersion:
    """Publish edited documents over the newest version, read inside the publish lock.

    `based_on` is the version the publisher started from (None: from an empty site). Only the `changed`
    documents are taken from `documents` (None or missing: removed) and laid over the newest version, so a
    publish of other documents committed meanwhile stays; each one someone else changed since `based_on` is
    a conflict. `changed` defaults to the documents whose text differs from `based_on`'s.
    """
    note = _required(note)
    _lock(s)
    base = _texts_at(s, based_on) if based_on is not None else {}
    names = list(changed) if changed is not None else [n for n in documents if base.get(n) != documents[n]]
    newest = _newest(s)
    texts = overlay(newest[1].texts if newest else {}, {name: documents.get(name) for name in names})
    bases = dict.fromkeys(names, based_on)
    return _publish(s, texts, bases, note=note, actor=actor, now=now, source=source, based_on=based_on)


def publish_folder(
    s: Session, texts: Mapping[str, str], *, note: str, actor: ActorLike, now: datetime, source: str
) -> SiteVersion:
    """Publish a folder's documents as the whole site, as they are: no conflicts are checked, the caller
    means "this whole folder" (`ivr flows publish` first refuses to undo publishes made since the folder's
    last one, see folder_overwrites)."""
    note = _required(note)
    _lock(s)
    newest = _newest(s)
    based_on = newest[0].id if newest else None
    return _publish(s, texts, {}, note=note, actor=actor, now=now, source=source, based_on=based_on)


def newest_from_folder(s: Session, source: str | None = None) -> SiteVersion | None:
    """The newest version published from a folder (from that `source` only, when given)."""
    query = select(SiteVersion).where(SiteVersion.source.not_in(WORKSPACE_SOURCES))
    if source is not None:
        query = query.where(SiteVersion.source == source[:500])
    return s.scalars(query.order_by(SiteVersion.id.desc()).limit(1)).first()


def folder_overwrites(s: Session, folder: Mapping[str, str]) -> list[SiteVersion]:
    """The versions published from the browser, the API or a rollback since a folder was last published
    (newest first) when publishing `folder` would undo them: a document they changed is in the folder as it
    was at that folder publish. [] when the folder holds their changes (e.g. exported, then edited)."""
    last = newest_from_folder(s)
    query = select(SiteVersion).where(SiteVersion.source.in_(WORKSPACE_SOURCES))
    if last is not None:
        query = query.where(SiteVersion.id > last.id)
    since = list(s.scalars(query.order_by(SiteVersion.id.desc())))
    if not since:
        return []
    base = dict(Bundle.from_json(last.bundle).texts) if last is not None else {}
    newest = _newest(s)
    current = newest[1].texts if newest is not None else {}
    changed = {name for name in {*base, *current} if base.get(name) != current.get(name)}
    return since if any(folder.get(name) == base.get(name) for name in changed) else []


def publish_drafts(
    s: Session, owner: str, *, note: str, actor: ActorLike, now: datetime, source: str
) -> SiteVersion:
    """Publish the owner's drafts over the newest version (each draft checked against its own base), then
    remove them."""
    note = _required(note)
    _lock(s)
    drafts = drafts_of(s, owner)
    if not drafts:
        raise PublishRefused("there are no drafts to publish")
    newest = _newest(s)
    published = newest[1].texts if newest is not None else {}
    bases_texts = {
        base: _texts_at(s, base) for base in {d.based_on for d in drafts.values()} if base is not None
    }
    edits = {  # a draft saved without a change is no change (and no conflict when others changed it since)
        name: draft
        for name, draft in drafts.items()
        if draft.based_on is None or bases_texts[draft.based_on].get(name) != draft.text
    }
    texts = overlay(published, {name: draft.text for name, draft in edits.items()})
    bases = {name: draft.based_on for name, draft in edits.items()}
    started = [base for base in bases.values() if base is not None]
    version = _publish(
        s,
        texts,
        bases,
        note=note,
        actor=actor,
        now=now,
        source=source,
        based_on=min(started) if started else None,
    )
    for draft in drafts.values():
        s.delete(draft)
    return version


def rollback(s: Session, version_id: int, *, note: str, actor: ActorLike, now: datetime) -> SiteVersion:
    """Publish an old version's documents again as a new version; LookupError when there is no such one."""
    note = _required(note)
    _lock(s)
    row = s.get(SiteVersion, version_id)
    if row is None:
        raise LookupError(f"there is no version {version_id}")
    texts = Bundle.from_json(row.bundle).texts
    newest = _newest(s)
    summary = changes(newest[1] if newest else None, _valid(texts)).line()  # still valid for today's engine
    version = _publish(
        s,
        texts,
        {},
        note=note,
        actor=actor,
        now=now,
        source="rollback",
        based_on=newest[0].id if newest else None,
        rolled_back_from=version_id,
        summary=f"back to version {version_id}: {summary}",
    )
    return version


def _publish(
    s: Session,
    texts: Mapping[str, str],
    bases: Mapping[str, int | None],
    *,
    note: str,
    actor: ActorLike,
    now: datetime,
    source: str,
    based_on: int | None,
    rolled_back_from: int | None = None,
    summary: str | None = None,
) -> SiteVersion:
    newest = _newest(s)
    current_id, current = (newest[0].id, newest[1]) if newest is not None else (None, None)
    found = _conflicts(s, texts, bases, current_id, current.texts if current else {})
    if found:
        names = ", ".join(conflict.document for conflict in found)
        raise PublishRefused(
            f"changed meanwhile (version {current_id}): {names}; merge that change into yours, then publish",
            conflicts=found,
        )
    bundle = _valid(texts)
    if current is not None and current.texts == bundle.texts:
        raise NothingToPublish(f"nothing to publish: the documents are those of version {current_id}")
    version = SiteVersion(
        digest=bundle.digest(),
        bundle=bundle.as_json(),
        published_at=now,
        source=source[:500],
        published_by=actor.name[:120],
        note=note,
        summary=summary if summary is not None else changes(current, bundle).line(),
        based_on=based_on,
        rolled_back_from=rolled_back_from,
    )
    s.add(version)
    s.flush()
    details: dict[str, Any] = {"version": version.id, "note": note, "summary": version.summary}
    if rolled_back_from is not None:
        details["rolled_back_from"] = rolled_back_from
    action = "flows.rollback" if rolled_back_from is not None else "flows.publish"
    s.add(
        AuditEntry(
            at=now,
            actor=actor.name,
            address=actor.address,
            action=action,
            target=f"version {version.id}",
            details=details,
        )
    )
    s.info[PUBLISHED] = True
    return version


def _required(note: str) -> str:
    if not note.strip():
        raise PublishRefused("a note is required: say what changes for callers, and why")
    return note.strip()


def _valid(texts: Mapping[str, str]) -> Bundle:
    bundle, problems = load_documents(texts)
    if bundle is None:
        count = len(errors(problems))
        raise PublishRefused(f"not published: {count} error(s) to fix", problems=problems)
    return bundle


def _lock(s: Session) -> None:
    """Serialise publishes, so each one's check of the newest version holds until it commits."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(PUBLISH_LOCK)))
    else:  # SQLite: take the database's write lock now, before reading the newest version
        s.execute(text("UPDATE site_versions SET note = note WHERE 0 = 1"))


def _newest(s: Session) -> tuple[SiteVersion, Bundle] | None:
    row = s.scalars(select(SiteVersion).order_by(SiteVersion.id.desc()).limit(1)).first()
    return (row, Bundle.from_json(row.bundle)) if row is not None else None


def _texts_at(s: Session, version_id: int) -> dict[str, str]:
    row = s.get(SiteVersion, version_id)
    if row is None:
        raise PublishRefused(f"there is no version {version_id} to start from")
    return dict(Bundle.from_json(row.bundle).texts)


def _conflicts(
    s: Session,
    texts: Mapping[str, str],
    bases: Mapping[str, int | None],
    current_id: int | None,
    current: Mapping[str, str],
) -> list[Conflict]:
    found = []
    at: dict[int, dict[str, str]] = {}
    for document in sorted(bases):
        base = bases[document]
        if base is not None and base == current_id:
            continue
        if base is not None and base not in at:
            at[base] = _texts_at(s, base)
        base_text = at[base].get(document) if base is not None else None
        now_text, new_text = current.get(document), texts.get(document)
        if base_text != now_text and now_text != new_text:
            before = {document: base_text} if base_text is not None else {}
            after = {document: now_text} if now_text is not None else {}
            diff = document_diffs(before, after)[0]
            found.append(Conflict(document, base_text, now_text, current_id, diff))
    return found
