"""Admin pages: the audit log (newest first, filtered by action and actor, a page at a time) and the
accounts (users and tokens, read-only: they are managed with `ivr user` and `ivr token`)."""

from __future__ import annotations

from math import ceil

from flask import Blueprint, abort, render_template, request

from ..accounts.access import requires
from ..accounts.audit import ACTIONS, count_entries, newest_entries
from ..accounts.tokens import list_tokens, token_state
from ..accounts.users import list_users
from ..bounds import PAGE_MAX, whole
from ..db import session, utcnow

bp = Blueprint("admin", __name__)
PER_PAGE = 50


def _page() -> int:
    """The page asked for (400 unless a whole number from 1)."""
    raw = request.args.get("page", "1").strip() or "1"
    page = whole(raw, least=1, most=PAGE_MAX)
    if page is None:
        abort(400, f"page: {raw!r} is not a page number (1, 2, ...)")
    return page


@bp.get("/audit")
@requires("view_audit")
def audit() -> str:
    """Who did what, when and from where: newest first; ?action= (or a family: campaign), ?actor=, ?page=."""
    action = request.args.get("action", "").strip() or None
    actor = request.args.get("actor", "").strip() or None
    page = _page()
    s = session()
    total = count_entries(s, action, actor)
    entries = newest_entries(s, action, actor, PER_PAGE, (page - 1) * PER_PAGE)
    pages = max(1, ceil(total / PER_PAGE))
    return render_template(
        "audit.html", entries=entries, total=total, page=page, pages=pages, action=action or "",
        actor=actor or "", actions=ACTIONS,
    )  # fmt: skip


@bp.get("/accounts")
@requires("manage_accounts")
def accounts() -> str:
    """Every user and token with role, desk and state (changes: `ivr user ...`, `ivr token ...`)."""
    s = session()
    return render_template(
        "accounts.html", users=list_users(s), tokens=list_tokens(s), state=token_state, now=utcnow()
    )
