"""Pages for people: sign-in, the call list with filters and search, each call's timeline, the ops report.
A partner user sees only their desk's calls, masked per its data policy (ivr.calls.privacy)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
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

from .. import metrics
from ..accounts.auth import check_login, current_viewer, ops_required
from ..calls.privacy import mask_data, mask_number
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
from ..extensions import clock, flows, priced_desks
from ..flows.errors import NothingPublished
from ..metrics import labels as metric_labels
from ..metrics.export import csv_text
from ..models import STATUS_RANK
from . import campaigns, reports
from .reports import CompareForm, FormError

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web"
)
bp.register_blueprint(campaigns.bp)  # /campaigns: ivr/web/campaigns.py


@bp.app_context_processor
def _scope() -> dict[str, object]:
    """The signed-in viewer and a number filter that masks for them, for every template."""

    def number(value: str | None) -> str:
        if not value:
            return ""
        return mask_number(value) if current_viewer().masks_numbers else value

    return {"viewer": current_viewer, "shown_number": number}


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
        filters = CallFilters.from_args(request.args).for_viewer(current_viewer())
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
    viewer = current_viewer()
    try:
        filters = CallFilters.from_args(request.args).for_viewer(viewer)
    except FilterError as exc:
        abort(400, str(exc))
    rows = csv_rows(database().sessionmaker, filters, priced_desks(), viewer)
    return Response(rows, headers=CSV_HEADERS)


@bp.get("/calls/<call_sid>")
@login_required
def call(call_sid: str) -> str:
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


def _today() -> date:
    """Today in UTC (on the simulator's clock when one is configured)."""
    return clock().date()


def _compare_report() -> tuple[CompareForm, dict[str, Any]]:
    """The comparison the query string asks for; FormError explains what cannot be used."""
    try:
        published = flows().published()
    except NothingPublished as exc:
        raise FormError(str(exc), exc.STATUS) from None
    form = reports.read_form(request.args, published.site.desks, _today())
    since, until = form.period
    try:
        report = metrics.compare(
            session(), published.site, form.desk_a, form.desk_b, since, until, form.settings
        )
    except ValueError as exc:
        raise FormError(str(exc)) from None
    return form, report


@bp.get("/reports/compare")
@login_required
@ops_required
def compare() -> str | tuple[str, int]:
    """Two desks side by side: figures, differences with 95% intervals, daily and hourly charts, paths."""
    published = flows().current()
    desks = published.site.desks if published is not None else {}
    try:
        form, report = _compare_report()
    except FormError as exc:
        values = reports.fallback_form(request.args, desks, _today())
        return render_template(
            "compare.html", desks=desks, values=values, error=str(exc), report=None
        ), exc.status
    labels = {name: figures["label"] for name, figures in report["desks"].items()}
    return render_template(
        "compare.html",
        desks=desks,
        values=form.args(),
        error=None,
        form=form,
        report=report,
        labels=labels,
        charts=reports.charts(report, form, labels),
        r=reports,
        m=metric_labels,
    )


@bp.get("/reports/compare.json")
@login_required
@ops_required
def compare_json() -> Response | tuple[Response, int]:
    """The comparison as JSON: the same document as the API's /api/reports/compare."""
    try:
        _form, report = _compare_report()
    except FormError as exc:
        return jsonify(error={"status": exc.status, "message": str(exc)}), exc.status
    return jsonify(report)


@bp.get("/reports/compare.csv")
@login_required
@ops_required
def compare_csv() -> Response:
    """The comparison as CSV, one row per metric: the same file as `ivr report compare --format csv`."""
    try:
        form, report = _compare_report()
    except FormError as exc:
        abort(exc.status, str(exc))
    name = f"compare-{form.desk_a}-{form.desk_b}-{form.since}-{form.until}.csv"
    return Response(
        csv_text(report),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
