"""POST /voice/outbound/<attempt_id>: the Url of every call the dialer places, requested when it is answered.
The campaign's flow, machine detection and linking the attempt: docs/dialer.md, "When the callee answers"."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from ..calls import log as calllog
from ..calls import queues
from ..campaigns import attempts
from ..db import session
from ..engine import CallContext, FlowError, Site, start
from ..engine.actions import MACHINE_ANSWERS, Action, Hangup, Say
from ..extensions import clock, flows
from ..models import Attempt, Campaign, Contact
from . import repeats
from .effects import save_and_apply
from .responses import fallback_twiml, twiml
from .wrappers import call_step

log = logging.getLogger(__name__)
bp = Blueprint("outbound", __name__)
RESERVED = frozenset({"caller", "called", "call_sid"})  # built-ins a contact's columns cannot replace


def contact_variables(contact: Contact, campaign: Campaign) -> dict[str, str]:
    """The flow variables of a contact: its extra columns, its name and the campaign's desk."""
    values: dict[str, Any] = {k: v for k, v in contact.variables.items() if k not in RESERVED}
    values["name"] = contact.name
    if campaign.desk:
        values["desk"] = campaign.desk
    return {key: "" if value is None else str(value) for key, value in values.items()}


def machine_actions(campaign: Campaign, site: Site) -> list[Action]:
    """What an answering machine gets: the campaign's message (in the flow's voice) or a hang-up."""
    if campaign.machine_detection != "message" or not campaign.machine_message:
        return [Hangup()]
    flow = site.flows.get(campaign.flow)
    voice = language = None
    if flow is not None:
        spoken = flow.languages.get(flow.default_language, {})
        voice, language = spoken.get("voice"), spoken.get("code")
    return [Say(campaign.machine_message, voice=voice, language=language), Hangup()]


@bp.post("/outbound/<int(wide=True):attempt_id>")  # attempts.id is a BIGINT
@call_step
def outbound(attempt_id: int) -> Response:
    """A campaign's call was answered: the flow for a person, the message or a hang-up for a machine."""
    s = session()
    form = request.form
    sid = form["CallSid"]
    published = flows().current()  # before this request writes: a first publication writes too
    if published is None:
        raise FlowError("no valid flows have ever been published")
    found = s.execute(
        select(Attempt, Contact, Campaign)
        .join(Contact, Contact.id == Attempt.contact_id)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.id == attempt_id)
    ).first()
    if found is None or not attempts.link(s, attempt_id, sid, form.get("To", "")):
        log.warning("outbound call %s for attempt %s that is unknown or another call's", sid, attempt_id)
        return fallback_twiml(None)
    _attempt, contact, campaign = found
    answered_by = form.get("AnsweredBy") or None
    attempts.note_answered_by(s, attempt_id, answered_by)
    now = clock()
    call = calllog.find_call(s, sid)
    if call is None:
        call = calllog.insert_call(s, form, now)
    elif call.site_version_id is not None:
        calllog.add_event(s, call.id, "outbound_repeated", now=now)
    calllog.add_event(
        s, call.id, "outbound_answered", now=now,
        campaign=campaign.name, attempt=attempt_id, contact=contact.id, answered_by=answered_by,
    )  # fmt: skip
    if answered_by in MACHINE_ANSWERS and campaign.machine_detection != "off":
        actions = machine_actions(campaign, published.site)
        left = "message" if isinstance(actions[0], Say) else "hangup"
        calllog.add_event(s, call.id, "machine_detected", now=now, answered_by=answered_by, action=left)
        return repeats.commit_with_answer(s, twiml(actions))
    ctx = CallContext(sid, contact.phone, campaign.caller_id, now, queues.figures(s, now))
    result = start(published.site, campaign.flow, ctx, variables=contact_variables(contact, campaign))
    save_and_apply(s, call, published.id, result, now)  # and its effects
    return repeats.commit_with_answer(s, twiml(result.actions))
