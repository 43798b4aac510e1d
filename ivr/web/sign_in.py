"""Signing in and out of the pages (Flask-Login, with a CSRF token on the form). A disabled account cannot
sign in; signing out ends the session on the server too (accounts.access.end_session)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..accounts.access import end_session, start_session
from ..accounts.users import check_login
from ..db import session

bp = Blueprint("sign_in", __name__)


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
def login() -> str | BaseResponse:
    """Sign in."""
    form = LoginForm()
    if form.validate_on_submit():
        user = check_login(session(), form.username.data, form.password.data)
        if user is None:
            flash("Wrong username or password.")
        elif user.disabled_at is not None:
            flash("This account is disabled: ask an admin to enable it.")
        else:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST, so it carries the CSRF token) here and on every other browser of the account."""
    end_session(current_user._get_current_object())
    session().commit()
    return redirect(url_for("web.sign_in.login"))
