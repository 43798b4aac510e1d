"""The call list people work in (filters in the URL, outcomes, sorting, pages) and each call as a story.
Times are shown in the site's time zone (`tz=utc` for UTC); a partner sees only their desk."""

from __future__ import annotations

from math import ceil
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from ..accounts.access import current_viewer, requires
from ..calls.outcomes import LABELS, OUTCOMES
from ..calls.privacy import mask_data
from ..calls.query import (
    CSV_HEADERS,
    DIRECTIONS,
    LEGS,
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
from ..extensions import flows, priced_desks
from ..models import STATUS_RANK
from . import story

bp = Blueprint("calls", __name__)
SORT_LABELS = {
    "-start": "newest first", "start": "oldest first", "-wait": "longest wait", "wait": "shortest wait",
    "-talk": "longest talk", "talk": "shortest talk",
}  # fmt: skip


def _zone() -> tuple[str, str]:
    """The zone times are shown in and the `tz` argument that asked for it ('' for the site's default)."""
    asked = request.args.get("tz", "").strip().lower()
    if asked not in ("", "site", "utc"):
        abort(400, f"tz: unknown {asked!r}; choose from site, utc")
    if asked == "utc":
        return "UTC", "utc"
    published = flows().current()
    return (published.site.timezone if published is not None else "UTC"), ""


def _helpers(zone: str) -> dict[str, Any]:
    return {
        "zone": zone,
        "local": lambda moment, pattern="%Y-%m-%d %H:%M:%S": story.local(moment, zone, pattern),
        "duration": story.duration,
        "is_link": story.is_link,
        "queue_results": story.QUEUE_RESULTS,
        "outcome_labels": LABELS,
    }


@bp.get("/")
@requires("view_calls")
def index() -> str | tuple[str, int]:
    """The call list: filters, search by number, outcome, legs, sorting and pages."""
    zone, tz = _zone()
    desks = sorted(priced_desks())
    choices = {
        "desks": desks,
        "statuses": STATUS_RANK,
        "outcomes": OUTCOMES,
        "directions": DIRECTIONS,
        "legs": LEGS,
        "sorts": SORT_LABELS,
        "tz": tz,
    } | _helpers(zone)
    try:
        filters = CallFilters.from_args(request.args, desks=desks, zone=zone).for_viewer(current_viewer())
    except FilterError as exc:
        return render_template(
            "calls.html", page=None, filters=CallFilters(zone=zone), error=str(exc), **choices
        ), 400
    page = page_of_calls(session(), filters)
    pages = max(1, ceil(page.total / filters.per_page))
    return render_template("calls.html", page=page, pages=pages, filters=filters, error=None, **choices)


@bp.get("/calls.csv")
@requires("view_calls")
def csv() -> Response:
    """The filtered call list as CSV (times in UTC, as over the API)."""
    viewer = current_viewer()
    try:
        filters = CallFilters.from_args(request.args, desks=list(priced_desks()), zone=_zone()[0])
        filters = filters.for_viewer(viewer)
    except FilterError as exc:
        abort(400, str(exc))
    rows = csv_rows(database().sessionmaker, filters, priced_desks(), viewer)
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@requires("view_calls")
def show(call_sid: str) -> str:
    """One call as a story: summary, recording, other leg, quiet timeline (a partner: 404 if not theirs)."""
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
    peer = visible_call(s, found.peer_call_sid, viewer) if found.peer_call_sid else None
    zone, tz = _zone()
    return render_template(
        "call.html",
        call=found,
        shown=shown_call(found, priced_desks(), viewer),
        timeline=story.timeline(events),
        ivr_seconds=story.ivr_seconds(found, events),
        peer=peer,
        tz=tz,
        **_helpers(zone),
    )
