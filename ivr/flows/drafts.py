"""SHIM (helper D, throwaway): replaced by helper A's ivr/flows/drafts.py at merge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import FlowDraft


def save_draft(
    s: Session, owner: str, document: str, text: str | None, based_on: int | None, now: datetime
) -> FlowDraft:
    """Keep a draft."""
    found = s.scalars(
        select(FlowDraft).where(FlowDraft.owner == owner, FlowDraft.document == document)
    ).first()
    if found is None:
        found = FlowDraft(owner=owner, document=document)
        s.add(found)
    found.text, found.based_on, found.updated_at = text, based_on, now
    s.flush()
    return found


def drafts_of(s: Session, owner: str) -> dict[str, FlowDraft]:
    """The owner's drafts by document."""
    return {d.document: d for d in s.scalars(select(FlowDraft).where(FlowDraft.owner == owner))}


def discard_draft(s: Session, owner: str, document: str) -> None:
    """Drop a draft."""
    s.execute(delete(FlowDraft).where(FlowDraft.owner == owner, FlowDraft.document == document))


def overlay(published: Mapping[str, str], drafts: Mapping[str, str | None]) -> dict[str, str]:
    """Drafts over the published texts (None removes)."""
    texts = dict(published)
    for name, text in drafts.items():
        if text is None:
            texts.pop(name, None)
        else:
            texts[name] = text
    return texts
