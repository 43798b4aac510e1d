"""The do-not-call list over the API: list, look up, removals (view_dnc), add, remove and import (edit_dnc).
A removal needs a reason; a callee's own opt-out also needs the remove_opt_outs permission (admins)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..accounts.access import current_actor, current_role, requires
from ..accounts.audit import numbers_target, record
from ..accounts.roles import allows, refusal
from ..campaigns import dnc
from ..campaigns.phone import all_to_e164, check_region
from ..db import session
from ..extensions import clock
from ..models import DoNotCall
from . import bodies
from .params import query_parameters

bp = Blueprint("dnc", __name__)


@bp.get("/dnc")
@requires("view_dnc")
@query_parameters("source", "page", "per_page")
def index() -> Response:
    """The do-not-call entries, newest first: ?source=manual|import|opt-out, page, per_page."""
    source = request.args.get("source")
    if source is not None and source not in dnc.SOURCES:
        abort(400, f"source: {source!r} is not a source (choose one of: {', '.join(dnc.SOURCES)})")
    page, per_page = bodies.page()
    entries, total = dnc.listed(session(), source, per_page, (page - 1) * per_page)
    return jsonify(entries=[dnc.entry_dict(e) for e in entries], total=total, page=page, per_page=per_page)


@bp.get("/dnc/<phone>")
@requires("view_dnc")
@query_parameters()
def show(phone: str) -> Response:
    """Whether a number (E.164) is on the list: its entry, or 404."""
    found = session().get(DoNotCall, phone)
    if found is None:
        removed = dnc.last_removal(session(), phone)
        since = f" (removed {removed.removed_at.isoformat()} by {removed.removed_by})" if removed else ""
        abort(404, f"{phone} is not on the do-not-call list{since}")
    return jsonify(entry=dnc.entry_dict(found))


@bp.get("/dnc/removals")
@requires("view_dnc")
@query_parameters("phone", "page", "per_page")
def removals() -> Response:
    """Numbers taken off the list, newest first: the entry as it was, who, when and why; ?phone=, page."""
    phone = request.args.get("phone")
    page, per_page = bodies.page()
    found, total = dnc.removals(session(), phone, per_page, (page - 1) * per_page)
    return jsonify(removals=[dnc.removal_dict(r) for r in found], total=total, page=page, per_page=per_page)


@bp.post("/dnc")
@requires("edit_dnc")
@query_parameters()
def add() -> Response:
    """Add numbers: {"phones": [...]} or {"phone": "..."}, optional "note" and "region" (default US)."""
    body = bodies.json_body()
    raw = body.get("phones", [body["phone"]] if "phone" in body else None)
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
        abort(400, 'send {"phone": "+15125550100"} or {"phones": [...]}')
    try:
        region = check_region(bodies.text_field(body, "region", "US"))
    except ValueError as exc:
        abort(400, f"region: {exc}")
    note = bodies.text_field(body, "note", "")
    phones, bad = all_to_e164(raw, region)
    if bad:
        abort(400, "nothing added: " + "; ".join(bad))
    s = session()
    now = clock()
    added = dnc.block_many(s, phones, "manual", note, now=now)
    unique = list(dict.fromkeys(phones))
    record(s, current_actor(), "dnc.add", numbers_target(unique), now, phones=unique, added=added, note=note)
    s.commit()
    return jsonify(added=added, already_listed=len(unique) - added, phones=unique)


def _reason() -> str:
    """The removal's reason: ?reason= or {"reason": "..."}, else 400."""
    given: object = request.args.get("reason")
    if given is None and request.content_length:
        given = bodies.json_body().get("reason")
    try:
        return dnc.check_reason(given)
    except ValueError as exc:
        abort(400, f'{exc}: send {{"reason": "..."}} or ?reason=')


@bp.delete("/dnc/<phone>")
@requires("edit_dnc")
@query_parameters("reason")
def remove(phone: str) -> Response:
    """Take a number (E.164) off the list with a reason, recorded; 404 when it is not on it.

    A callee's own opt-out needs remove_opt_outs (403 otherwise, saying why).
    """
    reason = _reason()
    s, now, actor = session(), clock(), current_actor()
    role = current_role() or ""
    try:
        removal = dnc.unblock(
            s, phone, by=actor.name, reason=reason, now=now, opt_outs=allows(role, "remove_opt_outs")
        )
    except dnc.OptOutProtected:
        s.rollback()
        why = refusal(role, "remove_opt_outs")
        abort(403, f"{phone} is on the list because the callee opted out during a call. {why}")
    if removal is None:
        abort(404, f"{phone} is not on the do-not-call list")
    details = dnc.removal_dict(removal)
    entry = {key: details[key] for key in ("reason", "source", "note", "added_at")}
    record(s, actor, "dnc.remove", phone, now, phones=[phone], **entry)
    s.commit()
    return jsonify(removed=phone, removal=details)


@bp.post("/dnc/import")
@requires("edit_dnc")
@query_parameters("region", "note")
def import_list() -> Response:
    """Add every number of the CSV body (one a line, or a phone column); ?region=US, ?note=."""
    region = bodies.region() or "US"
    s = session()
    now, note = clock(), request.args.get("note", "")
    try:
        report = dnc.import_list(s, bodies.csv_stream(), region, "import", note, now=now)
    except UnicodeDecodeError:
        s.rollback()
        abort(400, "nothing imported: the body is not UTF-8 text")
    details = {"added": report.added, "already_listed": report.already, "invalid": len(report.problems)}
    record(s, current_actor(), "dnc.import", "do-not-call list", now, note=note, **details)
    s.commit()
    return jsonify(report=report.as_dict())
