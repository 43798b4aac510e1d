"""The call log over the API: the filtered list (pages, or changes since a cursor), its CSV, one call
with its events (partners: their desk)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..accounts.access import current_viewer, requires
from ..calls import log as calllog
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
from ..calls.sync import Position, changed_calls
from ..db import database, session
from ..extensions import priced_desks
from .params import query_parameters

bp = Blueprint("calls", __name__)

PAGES = ("page", "per_page")
FILTERS = tuple(sorted(CallFilters.PARAMETERS - set(PAGES)))  # docs/call-log.md#filters
SYNC = ("after", "updated_since")  # keyset pagination in the order calls changed (ivr.calls.sync)
CHANGING = ("desk", "status", "outcome", "legs")  # a call's value of these can change: refused when syncing


def _filters() -> CallFilters:
    """The query's filters, narrowed to the token's desk for a partner."""
    try:
        return CallFilters.from_args(request.args, desks=list(priced_desks())).for_viewer(current_viewer())
    except FilterError as exc:
        abort(400, str(exc))


@bp.get("/calls")
@requires("view_calls")
@query_parameters(*FILTERS, *PAGES, *SYNC)
def index() -> Response:
    """The call list, newest first, a page at a time; with after= or updated_since=, the calls changed
    since then, in the order they changed (docs/api.md)."""
    filters = _filters()
    try:
        position = Position.from_args(request.args.get("after"), request.args.get("updated_since"))
    except FilterError as exc:
        abort(400, str(exc))
    if position is not None:
        return _changes(filters, position)
    page = page_of_calls(session(), filters)
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


def _changes(filters: CallFilters, position: Position) -> Response:
    """A page of the calls changed after `position`, with the cursor to resume from."""
    for name in ("page", "sort"):
        if request.args.get(name):
            abort(400, f"{name}: not with after or updated_since (changes come in the order they happened)")
    for name in CHANGING:
        if request.args.get(name, "") not in ("", "all" if name == "legs" else ""):
            abort(
                400,
                f"{name}: not with after or updated_since: a call's {name} can change after it was served, "
                "and a copy kept by it would keep calls no longer matching (filter the copy; legs=all only)",
            )
    settle = current_app.config.get("SYNC_SETTLE_SECONDS", 60)
    changes = changed_calls(session(), replace(filters, legs="all"), position, calllog.changed_now(), settle)
    viewer = current_viewer()
    desks = priced_desks()
    cursor = changes.position.cursor()
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in SYNC} | {"after": cursor}
    body = {
        "calls": [shown_call(c, desks, viewer) for c in changes.calls],
        "per_page": filters.per_page,
        "cursor": cursor,
        "next": f"{request.base_url}?{urlencode(args)}" if changes.full else None,
        "settled_before": changes.settled_before.isoformat().replace("+00:00", "Z"),
    }
    return jsonify(body)


@bp.get("/calls.csv")
@requires("view_calls")
@query_parameters(*FILTERS)
def csv() -> Response:
    """Every call matching the filters, as CSV."""
    rows = csv_rows(database().sessionmaker, _filters(), priced_desks(), current_viewer())
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@requires("view_calls")
@query_parameters()
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
