"""The live wallboard: every desk now and today so far against its targets, refreshed in place by live.js
from /live.json (the same document as GET /api/live); a partner sees only their desk."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for

from ..accounts.access import current_viewer, requires
from ..db import session
from ..extensions import clock, flows
from ..flows.errors import NothingPublished
from ..metrics import live
from ..metrics.live import Refused
from .story import duration

bp = Blueprint("live", __name__)

# What each desk shows: (figure, label, format, the status that colours it or None)
NOW = (
    ("waiting", "Callers waiting", "count", None),
    ("longest_wait", "Longest wait", "seconds", "longest_wait"),
    ("agents_signed_in", "Agents signed in", "count", None),
    ("agents_on_call", "On a call", "count", None),
    ("agents_free", "Free", "count", None),
)
AGENT_FIGURES = frozenset({"agents_signed_in", "agents_on_call", "agents_free"})  # queue desks only
TODAY = (
    ("offered", "Offered", "count", None),
    ("answered", "Answered", "count", None),
    ("abandoned", "Abandoned", "count", None),
    ("service_level", "Service level", "percent", "service_level"),
    ("asa", "Average speed of answer", "seconds", "asa"),
    ("abandonment_rate", "Abandonment rate", "percent", "abandonment_rate"),
)


def shown(value: Any, kind: str) -> str:
    """A wallboard figure as the page shows it (live.js formats its refreshes the same way)."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{round(value * 100)} %"
    if kind == "seconds":
        return duration(value)
    return str(value)


def target_text(row: dict[str, Any], status: str | None) -> str:
    """The target a figure is held to, in words ('' when it has none)."""
    targets = row["targets"]
    seconds = targets["service_level_seconds"]
    if status == "longest_wait":
        return f"target: at most {seconds} s"
    if status == "service_level" and targets["service_level_percent"] is not None:
        return f"target: {targets['service_level_percent']:g} % within {seconds} s"
    if status == "asa" and targets["asa_seconds"] is not None:
        return f"target: at most {targets['asa_seconds']:g} s"
    if status == "abandonment_rate" and targets["abandonment_percent"] is not None:
        return f"target: at most {targets['abandonment_percent']:g} %"
    return ""


def _board() -> dict[str, Any]:
    """The wallboard the query string asks for (`desk`), scoped to a partner's desk; Refused if it cannot."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        raise Refused(exc.STATUS, str(exc)) from None
    asked = request.args.get("desk", "").strip() or None
    return live.asked_board(session(), published.site.desks, clock(), asked, current_viewer().desk)


@bp.get("/live")
@requires("view_calls")
def page() -> str:
    """The wallboard page; it renders complete, then live.js refreshes its figures every few seconds."""
    try:
        board = _board()
    except Refused as exc:
        abort(exc.status, str(exc))
    asked = request.args.get("desk", "").strip()
    source = url_for("web.live.data", desk=asked) if asked else url_for("web.live.data")
    return render_template(
        "live.html", board=board, source=source, shown=shown, target_text=target_text, now_figures=NOW,
        today_figures=TODAY, agent_figures=AGENT_FIGURES,
    )  # fmt: skip


@bp.get("/live.json")
@requires("view_calls")
def data() -> Response:
    """The wallboard's document, for the page's own refresh (never cached; errors in JSON too)."""
    try:
        response = jsonify(_board())
    except Refused as exc:
        response = jsonify(error={"status": exc.status, "message": str(exc)})
        response.status_code = exc.status
    response.headers["Cache-Control"] = "no-store"
    return response
