"""Signing in (throttled: accounts.signins; a password check needs a free slot: sign_in_slots) and out (the
session ends on the server too: accounts.access.end_session); a disabled account cannot sign in."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..accounts.access import end_session, start_session
from ..accounts.audit import Actor, record
from ..accounts.signins import Attempt, Lock, attempt
from ..accounts.throttle import FOREVER
from ..db import session, utcnow
from .sign_in_slots import slot

bp = Blueprint("sign_in", __name__)
log = logging.getLogger(__name__)


class LoginForm(FlaskForm):
    """Username and password, with a CSRF token."""

    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """Only redirect back to a path on this site."""
    if target and target.startswith("/") and not urlparse(target).netloc and not target.startswith("//"):
        return target
    return url_for("web.calls.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse | tuple[str, int, dict[str, str]]:
    """Sign in."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    config = current_app.config
    folder = config["SIGN_IN_LOCK_DIR"] or current_app.instance_path
    with slot(folder, int(config["SIGN_IN_SLOTS"])) as free:
        if not free:
            flash("Many people are signing in at this moment: try again in a second.")
            return render_template("login.html", form=form), 429, {"Retry-After": "1"}
        s, now, address = session(), utcnow(), request.remote_addr
        tried = attempt(s, form.username.data, form.password.data, address, now)
        _record(s, tried, address, now)
        s.commit()
    if tried.locks:
        flash(_locked(tried.locks))
        return render_template("login.html", form=form), 429, {}
    if tried.user is None:
        flash("Wrong username or password.")
    elif tried.user.disabled_at is not None:
        flash("This account is disabled: ask an admin to enable it.")
    else:
        start_session(tried.user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form)


def _record(s: Session, tried: Attempt, address: str | None, now: datetime) -> None:
    """Log a failure (by address: the name typed may be a password typed in the wrong box) and audit the
    locks it set."""
    if tried.failed:
        log.warning("failed sign-in from %s", address or "an unknown address")
    for lock in tried.new_locks:
        until = "until lifted" if lock.until == FOREVER else lock.until.isoformat()
        actor = Actor("anonymous", address or "")
        record(s, actor, "user.lock", lock.key, now, scope=lock.rule.scope, until=until)


def _locked(locks: tuple[Lock, ...]) -> str:
    """What a locked sign-in is told: the same for a username that exists and one that does not."""
    last = max(lock.until for lock in locks)
    when = "until an admin lifts it" if last == FOREVER else f"until {last:%H:%M} UTC"
    return (
        "Too many failed sign-ins with this username or from this address: signing in is locked "
        f"{when}. An admin can lift the lock sooner."
    )


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST, so it carries the CSRF token) here and on every other browser of the account."""
    end_session(current_user._get_current_object())
    session().commit()
    return redirect(url_for("web.sign_in.login"))
