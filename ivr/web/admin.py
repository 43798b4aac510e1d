"""Admin pages: the audit log (newest first, filtered, a page at a time) and the accounts (users and tokens,
read-only: `ivr user`, `ivr token`) with the sign-in locks in force, which an admin can lift here."""

from __future__ import annotations

from math import ceil

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..accounts.access import current_actor, requires
from ..accounts.audit import ACTIONS, count_entries, newest_entries, record
from ..accounts.signins import LOCK_KINDS, sign_in_locks, unlock_account, unlock_address
from ..accounts.throttle import FOREVER
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
    s, now = session(), utcnow()
    return render_template(
        "accounts.html", users=list_users(s), tokens=list_tokens(s), state=token_state, now=now,
        locks=sign_in_locks(s, now), forever=FOREVER, kinds=LOCK_KINDS, form=FlaskForm(),
    )  # fmt: skip


class UnlockForm(FlaskForm):
    """Which lock to lift: a username's or an address's (the key as the Accounts page lists it)."""

    kind = SelectField(choices=["account", "address"], validators=[DataRequired()])
    key = StringField(validators=[DataRequired(), Length(max=255)])


@bp.post("/accounts/unlock")
@requires("manage_accounts")
def unlock() -> BaseResponse:
    """Lift a sign-in lock (a username's or an address's) and forget its failures; audited as user.unlock."""
    form = UnlockForm()
    if not form.validate_on_submit():
        abort(400, "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
    s, key = session(), form.key.data  # as listed: a username typed with spaces is a key of its own
    lifted = unlock_account(s, key) if form.kind.data == "account" else unlock_address(s, key)
    if lifted:
        record(s, current_actor(), "user.unlock", key, utcnow(), scopes=lifted)
        s.commit()
        flash(f"Lifted the sign-in lock on {key}.")
    else:
        flash(f"No sign-in lock on {key}: nothing to lift.")
    return redirect(url_for("web.admin.accounts"))
