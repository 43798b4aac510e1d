"""The JSON API for machines: bearer tokens, the same data as the web pages."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from ..auth import token_required
from ..calllog import get_call
from ..callquery import (
    CallFilters,
    FilterError,
    call_dict,
    csv_response,
    event_dict,
    events_of,
    page_of_calls,
)
from ..db import session

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
    try:
        return CallFilters.from_args(request.args)
    except FilterError as exc:
        abort(400, str(exc))


@bp.get("/calls")
@token_required
def calls() -> Response:
    """The call list: filters since, until, number, desk, status, direction; page and per_page."""
    page = page_of_calls(session(), _filters())
    body = {
        "calls": [call_dict(c) for c in page.calls],
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
def calls_csv() -> Response:
    """Every call matching the filters, as CSV."""
    return csv_response(_filters())


@bp.get("/calls/<call_sid>")
@token_required
def call_detail(call_sid: str) -> Response:
    """One call with its events in order."""
    s = session()
    call = get_call(s, call_sid)
    if call is None:
        abort(404, f"no call {call_sid}")
    return jsonify(call=call_dict(call), events=[event_dict(e) for e in events_of(s, call)])
