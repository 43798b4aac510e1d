"""The audit log over the API (admin tokens): the entries after an id, oldest first, so a copy keeps up."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import requires
from ..accounts.audit import entries_after, entry_dict
from ..db import session
from .bodies import MAX_PER_PAGE
from .params import query_parameters

bp = Blueprint("audit", __name__)


def _whole(name: str, default: int, least: int) -> int:
    """A whole-number parameter of at least `least`, else 400."""
    text = request.args.get(name, "").strip() or str(default)
    if not (text.isascii() and text.isdigit() and len(text) <= 18) or int(text) < least:
        abort(400, f"{name}: {text!r} is not a whole number from {least}")
    return int(text)


@bp.get("/audit")
@requires("view_audit")
@query_parameters("action", "actor", "after_id", "per_page")
def index() -> Response:
    """Entries after ?after_id= (default: from the first), oldest first; ?action= (or a family), ?actor=."""
    after_id = _whole("after_id", 0, 0)
    per_page = _whole("per_page", 100, 1)
    if per_page > MAX_PER_PAGE:
        abort(400, f"per_page: {per_page} is more than a page holds (at most {MAX_PER_PAGE})")
    action = request.args.get("action", "").strip() or None
    actor = request.args.get("actor", "").strip() or None
    entries = entries_after(session(), after_id, action, actor, per_page)
    cursor = entries[-1].id if entries else after_id
    args = {k: v for k, v in request.args.items() if k != "after_id"} | {"after_id": str(cursor)}
    return jsonify(
        entries=[entry_dict(e) for e in entries],
        cursor=cursor,
        next=f"{request.base_url}?{urlencode(args)}" if len(entries) == per_page else None,
    )
