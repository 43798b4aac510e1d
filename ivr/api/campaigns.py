"""The JSON API for outbound campaigns and the do-not-call list (ops tokens only; partners get 403).
Routes are added to the API blueprint (ivr.api.bp), so they share its bearer-token checks and JSON errors."""

from __future__ import annotations

import io
from typing import Any, cast

from flask import Response, abort, current_app, jsonify, request

from ..accounts.auth import token_required
from ..campaigns import dnc
from ..campaigns.csvfile import FileError
from ..campaigns.importer import ImportRefused, import_contacts
from ..campaigns.phone import PhoneError, check_region, to_e164
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
from ..models import Campaign, DoNotCall
from . import bp

MAX_IMPORT_BYTES = 256 * 1024 * 1024  # a CSV body may be this big (app config MAX_IMPORT_BYTES)
MAX_PER_PAGE = 500
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


def _campaign(ref: str) -> Campaign:
    try:
        return find_campaign(session(), ref)
    except LookupError as exc:
        abort(404, str(exc))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return body


def _region() -> str | None:
    try:
        return check_region(request.args.get("region"))
    except ValueError as exc:
        abort(400, f"region: {exc}")


def _csv_stream() -> io.TextIOWrapper:
    """The request body as a text stream (not read into memory), for a CSV upload."""
    if request.mimetype not in CSV_TYPES:
        abort(415, "send the list as the request body with Content-Type: text/csv")
    request.max_content_length = current_app.config.get("MAX_IMPORT_BYTES", MAX_IMPORT_BYTES)
    body = io.BufferedReader(cast(io.RawIOBase, request.stream))
    return io.TextIOWrapper(body, encoding="utf-8-sig", newline="")


@bp.get("/campaigns")
@token_required
def list_campaigns() -> Response:
    """Every campaign with its figures, newest first."""
    s = session()
    now = clock()
    return jsonify(campaigns=[campaign_dict(c, campaign_figures(s, c, now)) for c in all_campaigns(s)])


@bp.post("/campaigns")
@token_required
def create() -> tuple[Response, int]:
    """Create a draft campaign from a JSON object of settings; 400 names every bad field."""
    s = session()
    now = clock()
    published = flows().current()
    try:
        created = create_campaign(s, _json_body(), published.site if published else None, now)
    except CampaignError as exc:
        s.rollback()
        problems = [{"field": field, "message": message} for field, message in exc.problems]
        return jsonify(error={"status": 400, "message": str(exc), "problems": problems}), 400
    s.commit()
    return jsonify(campaign=campaign_dict(created, campaign_figures(s, created, now))), 201


@bp.get("/campaigns/<ref>")
@token_required
def campaign_detail(ref: str) -> Response:
    """One campaign (by id or name) with its figures."""
    s = session()
    found = _campaign(ref)
    return jsonify(campaign=campaign_dict(found, campaign_figures(s, found, clock())))


@bp.post("/campaigns/<ref>/contacts")
@token_required
def import_list(ref: str) -> Response:
    """Import contacts from the CSV body (?region=US for numbers without +country); the report by line."""
    s = session()
    found = _campaign(ref)
    region = _region()
    published = flows().current()
    needs = flow_variables(published.site if published else None, found)
    try:
        report = import_contacts(s, found, _csv_stream(), clock(), region, needs=needs)
    except FileError as exc:
        s.rollback()
        abort(400, f"nothing imported: {exc}")
    except ImportRefused as exc:
        s.rollback()
        abort(409, str(exc))
    s.commit()
    return jsonify(report=report.as_dict())


@bp.post("/campaigns/<ref>/<action>")
@token_required
def change(ref: str, action: str) -> Response:
    """start, pause, resume or cancel a campaign; 409 when its state does not allow it."""
    if action not in ACTIONS or action == "finish":
        abort(404, f"no action {action!r}: start, pause, resume or cancel")
    s = session()
    now = clock()
    found = _campaign(ref)
    try:
        change_state(s, found, action, now)
    except TransitionError as exc:
        s.rollback()
        abort(409, str(exc))
    s.commit()
    return jsonify(campaign=campaign_dict(found, campaign_figures(s, found, now)))


def _page() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "100"))
    except ValueError:
        abort(400, "page and per_page must be whole numbers")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        abort(400, f"page must be 1 or more, per_page from 1 to {MAX_PER_PAGE}")
    return page, per_page


@bp.get("/dnc")
@token_required
def dnc_list() -> Response:
    """The do-not-call entries, newest first: ?source=manual|import|opt-out, page, per_page."""
    source = request.args.get("source")
    if source is not None and source not in dnc.SOURCES:
        abort(400, f"source must be one of {', '.join(dnc.SOURCES)}")
    page, per_page = _page()
    entries, total = dnc.listed(session(), source, per_page, (page - 1) * per_page)
    return jsonify(entries=[dnc.entry_dict(e) for e in entries], total=total, page=page, per_page=per_page)


@bp.get("/dnc/<phone>")
@token_required
def dnc_entry(phone: str) -> Response:
    """Whether a number (E.164) is on the list: its entry, or 404."""
    found = session().get(DoNotCall, phone)
    if found is None:
        abort(404, f"{phone} is not on the do-not-call list")
    return jsonify(entry=dnc.entry_dict(found))


@bp.post("/dnc")
@token_required
def dnc_add() -> Response:
    """Add numbers: {"phones": [...]} or {"phone": "..."}, optional "note" and "region" (default US)."""
    body = _json_body()
    raw = body.get("phones", [body["phone"]] if "phone" in body else None)
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
        abort(400, 'send {"phone": "+15125550100"} or {"phones": [...]}')
    try:
        region = check_region(body.get("region", "US"))
    except ValueError as exc:
        abort(400, f"region: {exc}")
    note = body.get("note", "")
    if not isinstance(note, str):
        abort(400, "note must be text")
    phones, bad = [], []
    for value in raw:
        try:
            phones.append(to_e164(value, region))
        except PhoneError as exc:
            bad.append(str(exc))
    if bad:
        abort(400, "nothing added: " + "; ".join(bad))
    s = session()
    added = dnc.block_many(s, phones, "manual", note, now=clock())
    s.commit()
    unique = list(dict.fromkeys(phones))
    return jsonify(added=added, already_listed=len(unique) - added, phones=unique)


@bp.delete("/dnc/<phone>")
@token_required
def dnc_remove(phone: str) -> Response:
    """Take a number (E.164) off the list; 404 when it is not on it."""
    s = session()
    if not dnc.unblock(s, phone):
        abort(404, f"{phone} is not on the do-not-call list")
    s.commit()
    return jsonify(removed=phone)


@bp.post("/dnc/import")
@token_required
def dnc_import() -> Response:
    """Add every number of the CSV body (one a line, or a phone column); ?region=US, ?note=."""
    region = _region() or "US"
    s = session()
    try:
        report = dnc.import_list(
            s, _csv_stream(), region, "import", request.args.get("note", ""), now=clock()
        )
    except UnicodeDecodeError:
        s.rollback()
        abort(400, "nothing imported: the body is not UTF-8 text")
    s.commit()
    return jsonify(report=report.as_dict())
