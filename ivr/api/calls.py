"""The call log over the API: the filtered list, its CSV, one call with its events (partners: their desk)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import current_viewer, partners_allowed, token_required
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
from ..extensions import priced_desks

bp = Blueprint("calls", __name__)


def _filters() -> CallFilters:
    """The query's filters, narrowed to the token's desk for a partner."""
    try:
        return CallFilters.from_args(request.args).for_viewer(current_viewer())
    except FilterError as exc:
        abort(400, str(exc))


@bp.get("/calls")
@token_required
@partners_allowed
def index() -> Response:
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
def csv() -> Response:
    """Every call matching the filters, as CSV."""
    rows = csv_rows(database().sessionmaker, _filters(), priced_desks(), current_viewer())
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@token_required
@partners_allowed
def show(call_sid: str) -> Response:
    """One call with its events in order (another desk's call is 404 to a partner, as if it did not exist)."""
    s = session()
    viewer = current_viewer()
    call = visible_call(s, call_sid, viewer)
    if call is None:
        abort(404, f"no call {call_sid}")
    known = call_numbers(call)
    events = [shown_event(e, viewer, known) for e in events_of(s, call)]
    return jsonify(call=shown_call(call, priced_desks(), viewer), events=events)
