"""Drafts: each person's (or token's) unpublished text of a document, kept until published or discarded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..engine.loader import is_document_name
from ..models import FlowDraft


def check_document(document: str) -> str:
    """The document name, or ValueError when it is not a plain *.json file name."""
    if not is_document_name(document):
        raise ValueError(f"not a document name: {document!r} (a file name ending in .json, no folders)")
    return document


def save_draft(
    s: Session, owner: str, document: str, text: str | None, based_on: int | None, now: datetime
) -> FlowDraft:
    """Keep `owner`'s text of `document` (None: remove it on publish), started from version `based_on`."""
    check_document(document)
    draft = s.scalars(
        select(FlowDraft).where(FlowDraft.owner == owner, FlowDraft.document == document)
    ).first()
    if draft is None:
        draft = FlowDraft(owner=owner, document=document)
        s.add(draft)
    draft.text, draft.based_on, draft.updated_at = text, based_on, now
    s.flush()
    return draft


def drafts_of(s: Session, owner: str) -> dict[str, FlowDraft]:
    """The owner's drafts by document name."""
    found = s.scalars(select(FlowDraft).where(FlowDraft.owner == owner).order_by(FlowDraft.document))
    return {draft.document: draft for draft in found}


def discard_draft(s: Session, owner: str, document: str) -> bool:
    """Forget the owner's draft of a document; whether there was one."""
    done = s.execute(delete(FlowDraft).where(FlowDraft.owner == owner, FlowDraft.document == document))
    return bool(getattr(done, "rowcount", 0))


def overlay(published: Mapping[str, str], drafts: Mapping[str, str | None]) -> dict[str, str]:
    """The published texts with the drafts laid over them (a None draft removes its document)."""
    texts = dict(published)
    for document, text in drafts.items():
        if text is None:
            texts.pop(document, None)
        else:
            texts[document] = text
    return texts
