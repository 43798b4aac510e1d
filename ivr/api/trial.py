"""POST /api/flows/try: a simulated call through a draft for machines, as the editor's Try it panel
(docs/flows.md, "Try it"); the token's drafts over the newest version, nothing logged."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..accounts.access import current_owner, requires
from ..db import session
from ..extensions import allow_larger_bodies, clock
from ..flows.workspace import FLOWS_REQUEST_BYTES
from ..sim.trial import TrialError
from ..sim.workspace import try_draft
from .errors import error_response
from .params import query_parameters

bp = Blueprint("trial", __name__, url_prefix="/flows")

allow_larger_bodies(bp, FLOWS_REQUEST_BYTES)


@bp.post("/try")
@requires("edit_flows")
@query_parameters()
def try_call() -> Response:
    """A simulated call through `text` of `document`, replayed with `inputs` (400 with the reason)."""
    try:
        return jsonify(try_draft(session(), current_owner(), request.get_json(silent=True), clock()))
    except TrialError as exc:
        return error_response(400, str(exc))
