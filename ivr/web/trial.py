"""The editor's JSON helpers: the flow as a graph, and "Try it" (a simulated call through a draft), both on
the text as the editor holds it over the person's drafts and the newest version (docs/flows.md, "Try it")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from ..accounts.access import current_owner, requires
from ..db import session
from ..engine import load_documents
from ..engine.graph import flow_graph
from ..engine.loader import SITE_FILE, is_document_name
from ..extensions import clock
from ..flows.drafts import drafts_of, overlay
from ..flows.history import newest_texts
from ..sim.trial import TrialError, read_trial, run_trial

bp = Blueprint("trial", __name__, url_prefix="/flows")


class BadRequest(ValueError):
    """A request the endpoint cannot act on; answered 400 with its message as JSON."""


def _refuse(message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), 400


def _body() -> Mapping[str, Any]:
    """The JSON object posted, or BadRequest."""
    body = request.get_json(silent=True)
    if not isinstance(body, Mapping):
        raise BadRequest("send a JSON object with Content-Type: application/json")
    return body


def _document_and_text(body: Mapping[str, Any]) -> tuple[str, str]:
    document, text = body.get("document"), body.get("text")
    if not isinstance(document, str) or not is_document_name(document):
        raise BadRequest("document: the file name of a document, such as site.json or main.json")
    if not isinstance(text, str):
        raise BadRequest("text: the document's JSON text, as a string")
    return document, text


def published_and_drafts(s: Session, owner: str) -> dict[str, str]:
    """The newest version's documents with the owner's drafts laid over them (a removal draft removes)."""
    _newest, published = newest_texts(s)
    return overlay(published, {name: draft.text for name, draft in drafts_of(s, owner).items()})


@bp.post("/graph")
@requires("view_flows")
def graph() -> tuple[Response, int] | Response:
    """The flow in `text` as nodes and edges (ivr.engine.graph), with the nodes that have errors and those
    that have only warnings, checked over the person's other drafts and the newest version."""
    try:
        document, text = _document_and_text(_body())
    except BadRequest as exc:
        return _refuse(str(exc))
    texts = published_and_drafts(session(), current_owner()) | {document: text}
    _bundle, problems = load_documents(texts)
    data: object = None
    invalid: str | None = None
    try:
        data = json.loads(text)
    except ValueError as exc:
        invalid = f"invalid JSON: {exc}"
    drawn = flow_graph(data if document != SITE_FILE else None)  # the site file is no flow
    mine = [p for p in problems if p.file == document and p.node is not None]
    failing = sorted({p.node for p in mine if p.is_error and p.node})
    warned = sorted({p.node for p in mine if not p.is_error and p.node} - set(failing))
    return jsonify(drawn | {"problem_nodes": failing, "warning_nodes": warned, "invalid": invalid})


@bp.post("/try")
@requires("edit_flows")
def try_call() -> tuple[Response, int] | Response:
    """A simulated call through the draft, replayed with the caller's answers so far (see ivr.sim.trial)."""
    try:
        body = _body()
        document, text = _document_and_text(body)
        trial = read_trial(body)
        texts = published_and_drafts(session(), current_owner())
        if document not in texts:
            raise TrialError(f"document: {document} is neither published nor one of your drafts")
        return jsonify(run_trial(texts | {document: text}, trial, clock()))
    except (BadRequest, TrialError) as exc:
        return _refuse(str(exc))
