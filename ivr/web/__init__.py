"""Pages for people: sign-in, the call list with filters and search, and each call's timeline."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..auth import check_login
from ..calllog import get_call
from ..callquery import CallFilters, FilterError, csv_response, events_of, page_of_calls
from ..db import session
from ..models import STATUS_RANK

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web"
)


class LoginForm(FlaskForm):
    """Username and password, with a CSRF token."""

    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """Only redirect back to a path on this site."""
    if target and target.startswith("/") and not urlparse(target).netloc and not target.startswith("//"):
        return target
    return url_for("web.calls")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse:
    """Sign in."""
    form = LoginForm()
    if form.validate_on_submit():
        user = check_login(session(), form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong username or password.")
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST, so it carries the CSRF token)."""
    logout_user()
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required
def calls() -> str | tuple[str, int]:
    """The call list: filters, search by number, pages."""
    try:
        filters = CallFilters.from_args(request.args)
    except FilterError as exc:
        return render_template(
            "calls.html", page=None, filters=CallFilters(), error=str(exc), statuses=STATUS_RANK
        ), 400
    page = page_of_calls(session(), filters)
    return render_template("calls.html", page=page, filters=filters, error=None, statuses=STATUS_RANK)


@bp.get("/calls.csv")
@login_required
def calls_csv() -> Response:
    """The filtered call list as CSV."""
    try:
        filters = CallFilters.from_args(request.args)
    except FilterError as exc:
        abort(400, str(exc))
    return csv_response(filters)


@bp.get("/calls/<call_sid>")
@login_required
def call(call_sid: str) -> str:
    """One call and its timeline."""
    s = session()
    found = get_call(s, call_sid)
    if found is None:
        abort(404)
    return render_template("call.html", call=found, events=events_of(s, found))
