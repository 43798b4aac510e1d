"""POST /voice/outbound/<attempt_id>: the Url of every call the dialer places, requested when it is answered.

A person (or, with machine detection off, anyone) hears the campaign's flow from its start, pinned to the
published version like an incoming call; later steps go through the usual /voice/step URLs. The flow's
variables are the contact's (the extra columns of its CSV line), its `name`, and `desk` (the campaign's
desk, for an `enqueue` node without one); `caller` is the contact's number and `called` the campaign's.
With machine detection on and AnsweredBy machine_* or fax, the call hangs up, after the campaign's
machine_message when machine_detection is `message` (Twilio then waits for the end of the greeting:
MachineDetection=DetectMessageEnd).

The call is logged like an incoming one (Direction outbound-api), so a hand-off to a desk counts in the
desk's metrics. The request links the attempt to its CallSid if the dialer has not yet, only when the
call's `To` is the contact's number (a late request naming an attempt id of another contact is refused).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request
from sqlalchemy import select

from ..calls import log as calllog
from ..calls import queues
from ..campaigns import attempts as outcomes
from ..campaigns.lifecycle import MACHINE_ANSWERS
from ..db import session
from ..engine import CallContext, FlowError, Site, StepResult
from ..engine.actions import Action, Hangup, Say
from ..engine.runtime import CallState, Runtime
from ..extensions import clock, flows
from ..models import Attempt, Campaign, Contact
from .responses import fallback_twiml, twiml
from .routes import bp, call_step

log = logging.getLogger(__name__)
RESERVED = frozenset({"caller", "called", "call_sid"})  # built-ins a contact's columns cannot replace


def start_with(site: Site, flow: str, ctx: CallContext, variables: dict[str, str]) -> StepResult:
    """Begin a call in `flow` at its start node with these variables already set."""
    if flow not in site.flows:
        raise FlowError(f"no flow named {flow!r}")
    runtime = Runtime(site, CallState(flow=flow, variables=dict(variables)), ctx)
    runtime.record("flow_started", None, flow=flow)
    runtime.run(runtime.flow.start)
    return runtime.result()


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


@bp.post("/outbound/<int:attempt_id>")
@call_step
def outbound(attempt_id: int) -> Response:
    """A campaign's call was answered: the flow for a person, the message or a hang-up for a machine."""
    s = session()
    form = request.form
    sid = form["CallSid"]
    now = clock()
    published = flows().current()  # before this request writes: a first publication writes too
    if published is None:
        raise FlowError("no valid flows have ever been published")
    found = s.execute(
        select(Attempt, Contact, Campaign)
        .join(Contact, Contact.id == Attempt.contact_id)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.id == attempt_id)
    ).first()
    if found is None or not outcomes.link(s, attempt_id, sid, form.get("To", "")):
        log.warning("outbound call %s for attempt %s that is unknown or another call's", sid, attempt_id)
        return fallback_twiml(None)
    _attempt, contact, campaign = found
    answered_by = form.get("AnsweredBy") or None
    outcomes.note_answered_by(s, attempt_id, answered_by)
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
        s.commit()
        return twiml(actions)
    ctx = CallContext(sid, contact.phone, campaign.caller_id, now, queues.figures(s, now))
    result = start_with(published.site, campaign.flow, ctx, contact_variables(contact, campaign))
    calllog.save_step(s, call, published.id, result, now)
    s.commit()
    return twiml(result.actions)
