"""The editor's JSON helpers: the flow as a graph, and "Try it" (a simulated call through a draft), both on
the text as the editor holds it over the person's drafts and the newest version (docs/flows.md, "Try it")."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..accounts.access import current_owner, requires
from ..bounds import loads_json
from ..db import session
from ..engine import load_documents
from ..engine.graph import flow_graph
from ..engine.loader import SITE_FILE
from ..extensions import allow_larger_bodies, clock
from ..flows.workspace import FLOWS_REQUEST_BYTES, workspace_texts
from ..sim.trial import TrialError
from ..sim.workspace import document_and_text, try_draft

bp = Blueprint("trial", __name__, url_prefix="/flows")

allow_larger_bodies(bp, FLOWS_REQUEST_BYTES)


def _refuse(message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), 400


@bp.post("/graph")
@requires("view_flows")
def graph() -> tuple[Response, int] | Response:
    """The flow in `text` as nodes and edges (ivr.engine.graph), with the nodes that have errors and those
    that have only warnings, checked over the person's other drafts and the newest version."""
    body = request.get_json(silent=True)
    try:
        if not isinstance(body, dict):
            raise TrialError("send a JSON object with Content-Type: application/json")
        document, text = document_and_text(body)
    except TrialError as exc:
        return _refuse(str(exc))
    _bundle, problems = load_documents(
        workspace_texts(session(), {document: text}, drafts_of_owner=current_owner())
    )
    data: object = None
    invalid: str | None = None
    try:
        data = loads_json(text)
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
    """A simulated call through the draft, replayed with the caller's answers so far (ivr.sim.trial)."""
    try:
        return jsonify(try_draft(session(), current_owner(), request.get_json(silent=True), clock()))
    except TrialError as exc:
        return _refuse(str(exc))
