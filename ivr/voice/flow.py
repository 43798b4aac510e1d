"""A call's webhooks: its first request, each next step of its flow, and the callbacks that only log."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response, abort, request

from ..calls import log as calllog
from ..calls import queues
from ..campaigns.attempts import on_status
from ..db import session
from ..engine import CallContext, CallState, FlowError, Site, start, step
from ..extensions import clock, flows
from .agent_line import answer_incoming
from .effects import save_and_apply
from .repeats import commit_with_answer
from .responses import fallback_twiml, twiml
from .twiml import render
from .wrappers import call_step, callback

log = logging.getLogger(__name__)
bp = Blueprint("flow", __name__)
EVENTS = ("input", "wait", "result")


def _context(now: datetime) -> CallContext:
    form = request.form
    return CallContext(
        call_sid=form["CallSid"],
        caller=form.get("From", ""),
        called=form.get("To", ""),
        now=now,
        queues=queues.figures(session(), now),
    )


@bp.post("/incoming")
@call_step
def incoming() -> Response:
    """A new call: find the flow for the number called and run it from its start."""
    s = session()
    now = clock()
    published = flows().current()
    if published is None:
        raise FlowError("no valid flows have ever been published")
    line = published.site.agent_line
    if line is not None and request.form.get("To", "") in line.numbers:
        return answer_incoming(published)
    # A status callback ('initiated', 'ringing') usually logs the call before this request: only a call whose
    # flow has started already is a repeat. Its first answer is normally kept (repeats.py, answered by
    # call_step); without one (kept before that answer was), the start is answered again, not run again.
    call = calllog.find_or_insert_call(s, request.form, now)
    if call.site_version_id is not None:
        pinned = flows().get(call.site_version_id)
        if pinned is None:
            raise FlowError(f"flows version {call.site_version_id} is missing")
        return twiml(start(pinned.site, _flow_for(pinned.site), _context(now)).actions)
    result = start(published.site, _flow_for(published.site), _context(now))
    save_and_apply(s, call, published.id, result, now)  # and its effects
    return commit_with_answer(s, twiml(result.actions))


def _flow_for(site: Site) -> str:
    """The flow that answers the number called."""
    flow = site.flow_for_number(request.form.get("To", ""))
    if flow is None:
        raise FlowError("no flow answers the number called and none is the default")
    return flow.name


@bp.post("/step/<flow>/<node>/<event>", endpoint="step")
@call_step
def next_step(flow: str, node: str, event: str) -> Response:
    """The next step of a call in progress: gather input, queue wait or result, dial or recording result."""
    if event not in EVENTS:
        abort(404)
    s = session()
    now = clock()
    call = calllog.find_call(s, request.form["CallSid"])
    if call is None or call.site_version_id is None:
        log.warning(
            "step %s for unknown call %s: answered with a hang-up", request.path, request.form["CallSid"]
        )
        return fallback_twiml(None)
    published = flows().get(call.site_version_id)
    if published is None:
        raise FlowError(f"flows version {call.site_version_id} is missing")
    state = CallState(
        flow=flow, node=node, variables=dict(call.variables), tries=dict(call.tries), path=call.path or ""
    )
    result = step(published.site, state, event, request.form.to_dict(), _context(now))  # type: ignore[arg-type]
    save_and_apply(s, call, published.id, result, now)  # and its effects
    return commit_with_answer(s, twiml(result.actions))


def _no_content() -> Response:
    return Response(status=204)


def _try_again() -> Response:
    """A status callback that could not be stored (journaled): 503, which Twilio retries when the URL asks
    for retries on 5xx (`#rp=5xx`, docs/call-log.md)."""
    return Response("the call log is unavailable; journaled\n", status=503, content_type="text/plain")


def _empty_twiml() -> Response:
    return Response(render([], str), content_type="text/xml; charset=utf-8")


@bp.post("/fallback")
@callback(_empty_twiml)
def fallback_done() -> None:
    """Where the fallback's queue, dial or recording reports back: log it (the call then ends). The call may
    be only in the journal yet (its first steps answered while the database was down): it is logged now."""
    s = session()
    now = clock()
    call = calllog.find_or_insert_call(s, request.form, now)
    fields = ("QueueResult", "QueueTime", "DialCallStatus", "DialCallDuration", "RecordingUrl")
    outcome = {k: v for k, v in request.form.items() if k in fields}
    calllog.add_event(s, call.id, "fallback_result", now=now, **outcome)


@bp.post("/transcription")
@callback(_no_content, unstored=_try_again)
def transcription() -> None:
    """Twilio's transcription of a voicemail: kept on the call (logged now if only the journal has it yet) and
    in its timeline."""
    s = session()
    now = clock()
    call = calllog.find_or_insert_call(s, request.form, now)
    text = request.form.get("TranscriptionText", "")
    calllog.set_transcription(s, call, request.form.get("TranscriptionStatus", ""), text, now)


@bp.post("/status")
@callback(_no_content, unstored=_try_again)
def status() -> None:
    """A call status callback: applied once, never moving a call back from a final status."""
    now = clock()
    applied = calllog.apply_status(session(), request.form, now)
    # Only a call ivr placed can be a campaign's (its attempt and contact move on too): inbound callbacks
    # skip the attempts lookup.
    if applied and request.form.get("Direction", "").startswith("outbound-api"):
        on_status(session(), request.form, request.args.get("attempt"), now)
