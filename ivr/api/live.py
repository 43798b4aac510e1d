"""The live wallboard over the API: GET /api/live, the same document as the page's (partners: their desk)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import current_viewer, partners_allowed, token_required
from ..db import session
from ..extensions import clock, flows
from ..flows.errors import NothingPublished
from ..metrics import live
from .params import query_parameters

bp = Blueprint("live", __name__)


@bp.get("/live")
@token_required
@partners_allowed
@query_parameters("desk")
def board() -> Response:
    """Every desk now and today so far against its targets (desk: one desk only); read fresh each time."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        abort(exc.STATUS, str(exc))
    desks = published.site.desks
    try:
        only = live.scoped_desk(desks, request.args.get("desk", "").strip() or None, current_viewer().desk)
    except live.NotYours as exc:
        abort(403, str(exc))
    except ValueError as exc:
        abort(400, str(exc))
    response = jsonify(live.board(session(), desks, clock(), only))
    response.headers["Cache-Control"] = "no-store"
    return response
