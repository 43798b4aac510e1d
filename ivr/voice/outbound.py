"""POST /voice/outbound/<attempt_id>: the Url of every call the dialer places, requested when it is answered.
The campaign's flow, machine detection and linking the attempt: docs/dialer.md, "When the callee answers"."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, request

from ..calls import log as calllog
from ..calls import queues, steps
from ..campaigns import answered
from ..campaigns.answered import Callee, CampaignCall
from ..engine import CallContext, FlowError, LogEntry, Site, start
from ..engine.actions import MACHINE_ANSWERS, Action, Hangup, Say
from ..extensions import clock, flows
from . import repeats
from .effects import planned
from .responses import fallback_twiml, twiml
from .wrappers import call_step

log = logging.getLogger(__name__)
bp = Blueprint("outbound", __name__)
RESERVED = frozenset({"caller", "called", "call_sid"})  # built-ins a contact's columns cannot replace


def contact_variables(callee: Callee, campaign: CampaignCall) -> dict[str, str]:
    """The flow variables of a contact: its extra columns, its name and the campaign's desk."""
    values: dict[str, Any] = {k: v for k, v in callee.variables.items() if k not in RESERVED}
    values["name"] = callee.name
    if campaign.desk:
        values["desk"] = campaign.desk
    return {key: "" if value is None else str(value) for key, value in values.items()}


def machine_actions(campaign: CampaignCall, site: Site) -> list[Action]:
    """What an answering machine gets: the campaign's message (in the flow's voice) or a hang-up."""
    if campaign.machine_detection != "message" or not campaign.machine_message:
        return [Hangup()]
    flow = site.flows.get(campaign.flow)
    voice = language = None
    if flow is not None:
        spoken = flow.languages.get(flow.default_language, {})
        voice, language = spoken.get("voice"), spoken.get("code")
    return [Say(campaign.machine_message, voice=voice, language=language), Hangup()]


def _not_ours(attempt_id: int) -> Response:
    sid = request.form["CallSid"]
    log.warning("outbound call %s for attempt %s that is unknown or another call's", sid, attempt_id)
    return fallback_twiml(None)


@bp.post("/outbound/<int(wide=True):attempt_id>")  # attempts.id is a BIGINT
@call_step(reads_kept=True)
def outbound(attempt_id: int) -> Response:
    """A campaign's call was answered: the flow for a person, the message or a hang-up for a machine."""
    form = request.form
    sid = form["CallSid"]
    published = flows().current()  # before this request writes: a first publication writes too
    if published is None:
        raise FlowError("no valid flows have ever been published")
    store, connection = steps.held()
    found = store.read(connection, sid, g.get("repeat_key"))
    if found.kept is not None:
        return repeats.kept_response(found.kept)
    run = store.executor(connection)
    placed = answered.read(run, attempt_id)
    if placed is None or not answered.callee_of(placed, sid, form.get("To", "")):
        return _not_ours(attempt_id)
    callee, campaign = placed.callee, placed.campaign
    answered_by = form.get("AnsweredBy") or None
    now = clock()
    entries = []
    if found.call is not None and found.call.site_version_id is not None:
        entries.append(LogEntry("outbound_repeated", None, {}))
    about = {"campaign": campaign.name, "attempt": attempt_id, "contact": callee.contact_id}
    entries.append(LogEntry("outbound_answered", None, about | {"answered_by": answered_by}))
    guard = answered.link(attempt_id, sid, answered_by)
    if answered_by in MACHINE_ANSWERS and campaign.machine_detection != "off":
        actions = machine_actions(campaign, published.site)
        left = "message" if isinstance(actions[0], Say) else "hangup"
        entries.append(LogEntry("machine_detected", None, {"answered_by": answered_by, "action": left}))
        return _written(calllog.Logged({}, entries), twiml(actions), guard, now)
    ctx = CallContext(sid, callee.phone, campaign.caller_id, now, queues.figures(run, now))
    result = start(published.site, campaign.flow, ctx, variables=contact_variables(callee, campaign))
    logged = calllog.Logged(calllog.step_values(published.id, result), [*entries, *result.log])
    return _written(logged, twiml(result.actions), guard, now, planned(form, result, now))


def _written(
    logged: calllog.Logged, answer: Response, guard: steps.Guard, now: datetime, effects: steps.Effects = ()
) -> Response:
    """The answer's step written with the attempt's link, what its effects write and the answer kept: one
    write (ivr.calls.steps)."""
    store, connection = steps.held()
    row = repeats.answer_row(g.get("repeat_key"), answer)
    done = store.callback(connection, request.form, logged, now, row, guard, effects)
    if done is steps.Written.REFUSED:  # another call took the attempt since it was read
        return _not_ours(int(guard.params["link_attempt"]))
    if done is steps.Written.REPEAT:  # the same request, answered meanwhile: its answer, as kept
        kept = store.kept(connection, g.get("repeat_key"))
        if kept is not None:
            return repeats.kept_response(kept)
    if row is not None:
        repeats.mark_kept()
    return answer
