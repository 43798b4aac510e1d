"""What a person's workspace shows and checks: the newest version with their text laid over it, and whether
a draft went stale (the published text changed since the draft started). One place for the web and the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..bounds import loads_json
from ..engine.loader import SITE_FILE
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


def why_not_delete(texts: Mapping[str, str], document: str) -> str | None:
    """Why `document` cannot be deleted from these documents (None: it can): the site file, the default
    flow, or a flow other flows go to."""
    if document == SITE_FILE:
        return f"{SITE_FILE} holds the site's settings: it cannot be deleted"
    data = _parsed(texts.get(document))
    if data.get("default") is True:
        return f"{document} is the default flow (unknown numbers start there): make another the default first"
    name = data.get("name")
    callers = [
        f"{other} (node {node})"
        for other, text in sorted(texts.items())
        if other not in (document, SITE_FILE)
        for node, spec in _nodes(_parsed(text))
        if spec.get("type") == "goto" and spec.get("flow") == name
    ]
    if name is not None and callers:
        return f"other flows go to {document}: {', '.join(callers)}; change them first"
    return None


def _parsed(text: str | None) -> dict[str, Any]:
    try:
        data = loads_json(text) if text is not None else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _nodes(flow: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    nodes = flow.get("nodes")
    if not isinstance(nodes, dict):
        return []
    return [(name, spec) for name, spec in nodes.items() if isinstance(spec, dict)]


# Whole sites and long flows are posted to the flows routes: more than other forms (MAX_CONTENT_LENGTH).
FLOWS_REQUEST_BYTES = 1024 * 1024
