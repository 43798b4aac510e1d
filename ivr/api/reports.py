"""Reports over the API: two desks compared, the same document as the page's JSON (view_reports)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import requires
from ..db import session
from ..extensions import flows
from ..flows.errors import NothingPublished
from ..metrics import compare_from_args
from ..metrics.params import API_PARAMETERS
from .params import query_parameters

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/compare")
@requires("view_reports")
@query_parameters(*API_PARAMETERS, checked_by_view=True)  # with its own wording
def compare() -> Response:
    """Two desks side by side (ivr.metrics.compare): desks=A,B, since, until and the thresholds."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        abort(exc.STATUS, str(exc))
    try:
        return jsonify(compare_from_args(session(), published.site, request.args))
    except ValueError as exc:
        abort(400, str(exc))
