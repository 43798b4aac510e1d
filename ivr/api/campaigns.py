"""The JSON API for outbound campaigns (reading: view_campaigns; changes: run_campaigns)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify

from ..accounts.access import current_actor, requires
from ..accounts.audit import record, report_figures
from ..campaigns.csvfile import FileError
from ..campaigns.importer import ImportRefused, import_contacts
from ..campaigns.rules import ACTIONS, CampaignError, TransitionError
from ..campaigns.service import (
    campaign_dict,
    change_state,
    create_campaign,
    find_campaign,
    flow_variables,
)
from ..campaigns.service import list_campaigns as all_campaigns
from ..campaigns.tally import campaign_figures
from ..db import session
from ..extensions import clock, flows
from ..models import Campaign
from . import bodies
from .errors import error_response
from .params import query_parameters

bp = Blueprint("campaigns", __name__)


def _campaign(ref: str) -> Campaign:
    try:
        return find_campaign(session(), ref)
    except LookupError as exc:
        abort(404, str(exc))


@bp.get("/campaigns")
@requires("view_campaigns")
@query_parameters()
def index() -> Response:
    """Every campaign with its figures, newest first."""
    s = session()
    now = clock()
    return jsonify(campaigns=[campaign_dict(c, campaign_figures(s, c, now)) for c in all_campaigns(s)])


@bp.post("/campaigns")
@requires("run_campaigns")
@query_parameters()
def create() -> tuple[Response, int]:
    """Create a draft campaign from a JSON object of settings; 400 names every bad field."""
    s = session()
    now = clock()
    published = flows().current()
    try:
        created = create_campaign(s, bodies.json_body(), published.site if published else None, now)
    except CampaignError as exc:
        s.rollback()
        problems = [{"field": field, "message": message} for field, message in exc.problems]
        return error_response(400, str(exc), problems=problems), 400
    record(s, current_actor(), "campaign.create", created.name, now, id=created.id)
    s.commit()
    return jsonify(campaign=campaign_dict(created, campaign_figures(s, created, now))), 201


@bp.get("/campaigns/<ref>")
@requires("view_campaigns")
@query_parameters()
def show(ref: str) -> Response:
    """One campaign (by id or name) with its figures."""
    s = session()
    found = _campaign(ref)
    return jsonify(campaign=campaign_dict(found, campaign_figures(s, found, clock())))


@bp.post("/campaigns/<ref>/contacts")
@requires("run_campaigns")
@query_parameters("region")
def import_list(ref: str) -> Response:
    """Import contacts from the CSV body (?region=US for numbers without +country); the report by line."""
    s = session()
    found = _campaign(ref)
    region = bodies.region()
    published = flows().current()
    needs = flow_variables(published.site if published else None, found)
    now = clock()
    try:
        report = import_contacts(s, found, bodies.csv_stream(), now, region, needs=needs, checkpoint=s.commit)
    except FileError as exc:
        s.rollback()
        abort(400, f"nothing imported: {exc}")
    except ImportRefused as exc:
        s.rollback()
        abort(409, str(exc))
    record(s, current_actor(), "campaign.import", found.name, now, **report_figures(report.as_dict()))
    s.commit()
    return jsonify(report=report.as_dict())


@bp.post("/campaigns/<ref>/<action>")
@requires("run_campaigns")
@query_parameters()
def change(ref: str, action: str) -> Response:
    """start, pause, resume or cancel a campaign; 409 when its state does not allow it."""
    if action not in ACTIONS or action == "finish":
        abort(404, f"no action {action!r}: start, pause, resume or cancel")
    s = session()
    now = clock()
    found = _campaign(ref)
    before = found.state
    try:
        state = change_state(s, found, action, now)
    except TransitionError as exc:
        s.rollback()
        abort(409, str(exc))
    record(s, current_actor(), f"campaign.{action}", found.name, now, id=found.id, before=before, state=state)
    s.commit()
    return jsonify(campaign=campaign_dict(found, campaign_figures(s, found, now)))
