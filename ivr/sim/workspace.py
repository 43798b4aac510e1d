"""A try as the workspace asks for it: a document's text over the person's drafts and the newest version.
Shared by the editor (web) and the API; reads the database, never writes it (ivr.sim.trial)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..engine.loader import is_document_name
from ..flows.workspace import workspace_texts
from .trial import TrialError, read_trial, run_trial


def document_and_text(body: object) -> tuple[str, str]:
    """The `document` and `text` of a request body; TrialError saying what is missing."""
    document = body.get("document") if isinstance(body, dict) else None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(document, str) or not is_document_name(document):
        raise TrialError("document: the file name of a document, such as site.json or main.json")
    if not isinstance(text, str):
        raise TrialError("text: the document's JSON text, as a string")
    return document, text


def try_draft(s: Session, owner: str, body: object, now: datetime) -> dict[str, Any]:
    """The answer to a try request body (docs/flows.md, "Try it"); TrialError for a request to refuse."""
    if not isinstance(body, dict):
        raise TrialError("send a JSON object with Content-Type: application/json")
    document, text = document_and_text(body)
    trial = read_trial(body)
    if document not in workspace_texts(s, drafts_of_owner=owner):
        raise TrialError(f"document: {document} is neither published nor one of your drafts")
    return run_trial(workspace_texts(s, {document: text}, drafts_of_owner=owner), trial, now)
