"""The live wallboard over the API: GET /api/live, the same document as the page's (partners: their desk)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import current_viewer, requires
from ..db import session
from ..extensions import clock, flows
from ..flows.errors import NothingPublished
from ..metrics import live
from .params import query_parameters

bp = Blueprint("live", __name__)


@bp.get("/live")
@requires("view_calls")
@query_parameters("desk")
def board() -> Response:
    """Every desk now and today so far against its targets (desk: one desk only); read fresh each time."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        abort(exc.STATUS, str(exc))
    asked = request.args.get("desk", "").strip() or None
    try:
        found = live.asked_board(session(), published.site.desks, clock(), asked, current_viewer().desk)
    except live.Refused as exc:
        abort(exc.status, str(exc))
    response = jsonify(found)
    response.headers["Cache-Control"] = "no-store"
    return response
