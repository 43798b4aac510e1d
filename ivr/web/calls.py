"""The call list with filters, search and CSV, and each call's timeline; a partner sees only their desk."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required

from ..accounts.access import current_viewer
from ..calls.privacy import mask_data
from ..calls.query import (
    CSV_HEADERS,
    CallFilters,
    FilterError,
    call_numbers,
    csv_rows,
    events_of,
    page_of_calls,
    shown_call,
    visible_call,
)
from ..db import database, session
from ..extensions import priced_desks
from ..models import STATUS_RANK

bp = Blueprint("calls", __name__)


@bp.get("/")
@login_required
def index() -> str | tuple[str, int]:
    """The call list: filters, search by number, pages."""
    try:
        filters = CallFilters.from_args(request.args).for_viewer(current_viewer())
    except FilterError as exc:
        return render_template(
            "calls.html", page=None, filters=CallFilters(), error=str(exc), statuses=STATUS_RANK
        ), 400
    page = page_of_calls(session(), filters)
    return render_template("calls.html", page=page, filters=filters, error=None, statuses=STATUS_RANK)


@bp.get("/calls.csv")
@login_required
def csv() -> Response:
    """The filtered call list as CSV."""
    viewer = current_viewer()
    try:
        filters = CallFilters.from_args(request.args).for_viewer(viewer)
    except FilterError as exc:
        abort(400, str(exc))
    rows = csv_rows(database().sessionmaker, filters, priced_desks(), viewer)
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@login_required
def show(call_sid: str) -> str:
    """One call and its timeline (another desk's call is 404 to a partner, as if it did not exist)."""
    s = session()
    viewer = current_viewer()
    found = visible_call(s, call_sid, viewer)
    if found is None:
        abort(404)
    known = call_numbers(found)
    events = [
        {
            "at": e.at,
            "kind": e.kind,
            "node": e.node,
            "data": mask_data(e.data, known) if viewer.masks_numbers else e.data,
        }
        for e in events_of(s, found)
    ]
    return render_template(
        "call.html", call=found, shown=shown_call(found, priced_desks(), viewer), events=events
    )
