"""The ops comparison of two desks: the page, its JSON and its CSV (form, tiles, charts: web/reports.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from .. import metrics
from ..accounts.access import requires
from ..db import session
from ..extensions import clock, flows
from ..flows.errors import NothingPublished
from ..metrics import labels as metric_labels
from ..metrics.export import csv_text
from ..metrics.modes import MODES
from . import reports
from .reports import CompareForm, FormError

bp = Blueprint("compare", __name__)


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
    try:  # the API's own reading of the same parameters: the page, its API link and the API agree
        report = metrics.compare_from_args(session(), published.site, form.api_args())
    except ValueError as exc:
        raise FormError(str(exc)) from None
    return form, report


@bp.get("/reports/compare")
@requires("view_reports")
def page() -> str | tuple[str, int]:
    """Two desks side by side: the verdicts, the charts, the tables, and the same report elsewhere."""
    published = flows().current()
    site = published.site if published is not None else None
    desks = site.desks if site is not None else {}
    try:
        form, report = _compare_report()
    except FormError as exc:
        values = reports.fallback_form(request.args, desks, _today())
        zones = reports.zone_choices(site, values.get("timezone"))
        return render_template(
            "compare.html", desks=desks, values=values, error=str(exc), report=None, zones=zones,
            segments=reports.segment_choices(None, values), mode_names=MODES, r=reports,
        ), exc.status  # fmt: skip
    labels = {name: figures["label"] for name, figures in report["desks"].items()}
    values = form.args()
    return render_template(
        "compare.html",
        desks=desks,
        values=values,
        error=None,
        form=form,
        report=report,
        labels=labels,
        tiles=reports.tiles(report),
        charts=reports.charts(report, form, labels),
        zones=reports.zone_choices(site, report["timezone"]),
        segments=reports.segment_choices(report, values),
        mode_names=MODES,
        r=reports,
        m=metric_labels,
    )


@bp.get("/reports/compare.json")
@requires("view_reports")
def json() -> Response | tuple[Response, int]:
    """The comparison as JSON: the same document as the API's /api/reports/compare."""
    try:
        _form, report = _compare_report()
    except FormError as exc:
        return jsonify(error={"status": exc.status, "message": str(exc)}), exc.status
    return jsonify(report)


@bp.get("/reports/compare.csv")
@requires("view_reports")
def csv() -> Response:
    """The comparison as CSV, one row per metric: the same file as `ivr report compare --format csv`."""
    try:
        form, report = _compare_report()
    except FormError as exc:
        abort(exc.status, str(exc))
    name = f"compare-{form.desk_a}-{form.desk_b}-{form.since}-{form.until}-{report['mode']}.csv"
    return Response(
        csv_text(report),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
