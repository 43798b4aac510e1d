"""The JSON API for machines: bearer tokens, the same data as the web pages."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from ..accounts.auth import current_viewer, partners_allowed, token_required
from ..calls.query import (
    CSV_HEADERS,
    CallFilters,
    FilterError,
    call_numbers,
    csv_rows,
    events_of,
    page_of_calls,
    shown_call,
    shown_event,
    visible_call,
)
from ..db import database, session
from ..extensions import flows, priced_desks
from ..flows.errors import NothingPublished
from ..metrics import compare_from_args

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> tuple[Response, int]:
    response = jsonify(error={"status": error.code, "message": error.description})
    code = error.code or 400
    return response, code


@bp.after_request
def _challenge(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ivr"'
    return response


def _filters() -> CallFilters:
    """The query's filters, narrowed to the token's desk for a partner."""
    try:
        return CallFilters.from_args(request.args).for_viewer(current_viewer())
    except FilterError as exc:
        abort(400, str(exc))


@bp.get("/calls")
@token_required
@partners_allowed
def calls() -> Response:
    """The call list: filters since, until, number, desk, status, direction; page and per_page."""
    page = page_of_calls(session(), _filters())
    viewer = current_viewer()
    desks = priced_desks()
    body = {
        "calls": [shown_call(c, desks, viewer) for c in page.calls],
        "page": page.filters.page,
        "per_page": page.filters.per_page,
        "total": page.total,
        "next": f"{request.base_url}?{urlencode(page.filters.as_args(page=page.filters.page + 1))}"
        if page.has_next
        else None,
    }
    return jsonify(body)


@bp.get("/calls.csv")
@token_required
@partners_allowed
def calls_csv() -> Response:
    """Every call matching the filters, as CSV."""
    rows = csv_rows(database().sessionmaker, _filters(), priced_desks(), current_viewer())
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@token_required
@partners_allowed
def call_detail(call_sid: str) -> Response:
    """One call with its events in order (another desk's call is 404 to a partner, as if it did not exist)."""
    s = session()
    viewer = current_viewer()
    call = visible_call(s, call_sid, viewer)
    if call is None:
        abort(404, f"no call {call_sid}")
    known = call_numbers(call)
    events = [shown_event(e, viewer, known) for e in events_of(s, call)]
    return jsonify(call=shown_call(call, priced_desks(), viewer), events=events)


@bp.get("/reports/compare")
@token_required
def reports_compare() -> Response:
    """Two desks side by side (ivr.metrics.compare): desks=A,B, since, until and the thresholds (ops only)."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        abort(exc.STATUS, str(exc))
    try:
        return jsonify(compare_from_args(session(), published.site, request.args))
    except ValueError as exc:
        abort(400, str(exc))


from . import campaigns as _campaigns  # noqa: E402, F401  (adds /api/campaigns and /api/dnc to bp)
