"""What a person's workspace shows and checks: the newest version with their text laid over it, and whether
a draft went stale (the published text changed since the draft started). One place for the web and the API."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from ..models import FlowDraft
from .drafts import drafts_of, overlay
from .history import newest_texts, version_texts


def workspace_texts(
    s: Session, edits: Mapping[str, str | None] | None = None, *, drafts_of_owner: str | None = None
) -> dict[str, str]:
    """The newest version's documents, with `drafts_of_owner`'s drafts (when given) and then `edits` laid
    over them (None removes a document). Newest + one document is exactly what that document's Publish
    publishes; the owner's drafts too is what "Publish all my drafts" publishes."""
    _newest, texts = newest_texts(s)
    if drafts_of_owner is not None:
        texts = overlay(texts, {name: draft.text for name, draft in drafts_of(s, drafts_of_owner).items()})
    return overlay(texts, edits or {})


def base_texts(s: Session, version: int | None) -> dict[str, str]:
    """A version's documents; {} for none or a version that is gone."""
    if version is None:
        return {}
    try:
        return version_texts(s, version)
    except LookupError:
        return {}


def is_stale(s: Session, draft: FlowDraft, newest: Mapping[str, str]) -> bool:
    """Whether the published text of the draft's document changed since the version the draft started from."""
    return base_texts(s, draft.based_on).get(draft.document) != newest.get(draft.document)
