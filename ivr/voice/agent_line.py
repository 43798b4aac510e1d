"""The agent line: an agent calls in, signs in with agent id and PIN, and takes the desk's callers in turn.

Its routes sit on the voice blueprint (/voice/agent/...), so they have the same body, signature and CallSid
checks. /voice/incoming hands a call to `answer_incoming` when the number called is one of the site's
`agent_line.numbers`.

Twilio's behaviour this relies on:
- `<Dial><Queue>` connects the dialling party (the agent) to the first call waiting in the queue, and "if
  the queue is empty, Dial will wait until the next person joins the queue or until the <Dial> timeout
  duration is reached" (twilio.com/docs/voice/twiml/queue). So an idle agent waits inside the Dial, up to
  WAIT_SECONDS; when that runs out the Dial action is requested without a bridge (Twilio's Dial reference
  reports "no-answer" when the timeout passes; any status other than completed/answered is read as
  "nobody came") and the line offers the queue again. Dial's timeout is a positive integer, default 30 s,
  and an action URL is posted to "regardless of outcome of Dial" (/docs/voice/twiml/dial, and its 2008
  version): also when the agent hangs up, with CallStatus completed, which signs the agent out.
- The Queue noun's `url` runs on the dequeued caller's end before the two are connected; its request has
  QueueSid, CallSid (the caller), QueueTime and DequeingCallSid (the agent), and its TwiML may use only Play,
  Say, Pause and Redirect (/docs/voice/twiml/queue). That request links the two legs.
- `hangupOnStar="true"` lets the agent end the bridge with * and stay on the line (/docs/voice/twiml/dial):
  the Dial action (DialCallStatus, DialCallDuration = talk time, DialCallSid) then offers the next caller,
  and the caller's own Enqueue action runs with QueueResult=bridged, which leads to the flow's survey.
- Between callers a short Gather (no actionOnEmptyResult) listens for *: silence falls through to the next
  verb, the Dial on the queue again (/docs/voice/twiml/gather). Hanging up also signs the agent out; the
  agent leg's duration is the staffed time the agent_hour cost model bills.

The agent leg's row has role 'agent' from the first request; after sign-in also desk and agent. Its node
column says where the agent is: agent_id, agent_pin, agent_ready, agent_talking, agent_signed_out,
agent_refused, agent_locked_out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from flask import Response, request
from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ..accounts.agents import verify_agent
from ..calls import log as calllog
from ..db import session
from ..engine import FlowError
from ..engine.nodes import ANSWERED_DIAL
from ..engine.site import AgentLine, Desk
from ..extensions import clock, flows
from ..flows.store import Published
from ..models import TERMINAL_STATUSES
from .responses import absolute, fallback_twiml
from .routes import _note_failure, bp

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # wrong id/PIN pairs per call before the line hangs up
ENTRY_SECONDS = 10  # how long the line waits for the agent id or PIN
KEY_SECONDS = 2  # between callers: how long the line listens for * (sign out)
# How long a Dial on an empty queue waits for a caller before the line offers the queue again. Twilio
# documents Dial's timeout as a positive integer (no maximum); 600 s is the Calls API's maximum ring time.
WAIT_SECONDS = 600
APOLOGY = "Sorry, the agent line has a problem. Please call again. Goodbye."
SIGNING_IN = ("agent_id", "agent_pin")
SIGNED_IN = ("agent_ready", "agent_talking")
P = ParamSpec("P")


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), status=200, content_type="text/xml; charset=utf-8")


def _say(target: VoiceResponse | GatherVerb, text: str, line: AgentLine | None) -> None:
    target.say(text, voice=line.voice if line else None, language=line.language if line else None)


def _goodbye(text: str, line: AgentLine | None) -> Response:
    response = VoiceResponse()
    _say(response, text, line)
    response.hangup()
    return _xml(response)


def _apology() -> Response:
    return _goodbye(APOLOGY, None)


def _empty() -> Response:
    return _xml(VoiceResponse())


def agent_step(
    fallback: Callable[[], Response],
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """Run an agent-line step; on any error roll back, log it with the CallSid and answer `fallback`."""

    def decorate(handler: Callable[P, Response]) -> Callable[P, Response]:
        @wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            try:
                return handler(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as exc:
                session().rollback()
                log.exception("call %s: agent line step %s failed", request.form["CallSid"], request.path)
                _note_failure(request.form["CallSid"], exc)
                return fallback()

        return wrapper

    return decorate


# -- documents -------------------------------------------------------------------------------------


def _ask(line: AgentLine | None, endpoint: str, text: str) -> Response:
    """A Gather of digits ended by #, posted even when empty."""
    response = VoiceResponse()
    gather = response.gather(
        action=absolute(endpoint),
        method="POST",
        input="dtmf",
        timeout=ENTRY_SECONDS,
        finish_on_key="#",
        action_on_empty_result=True,
    )
    _say(gather, text, line)
    return _xml(response)


def _ready(line: AgentLine | None, desk: Desk, opening: str, between_calls: bool) -> Response:
    """Say `opening`, name the desk and queue, and take its longest-waiting caller (waiting if none).

    Between callers the opening sits in a short Gather: * signs out, silence goes on to the queue.
    """
    response = VoiceResponse()
    if between_calls:
        gather = response.gather(
            action=absolute("voice.agent_key"),
            method="POST",
            input="dtmf",
            num_digits=1,
            timeout=KEY_SECONDS,
        )
        _say(gather, f"{opening} Press star to sign out.", line)
    elif opening:
        _say(response, opening, line)
    _say(response, f"{desk.label}, queue {desk.queue}.", line)
    dial = response.dial(
        action=absolute("voice.agent_dialed"), method="POST", timeout=WAIT_SECONDS, hangup_on_star=True
    )
    dial.queue(str(desk.queue), url=absolute("voice.agent_whisper"), method="POST")
    return _xml(response)


# -- state -----------------------------------------------------------------------------------------


def _published(leg: calllog.Leg) -> Published:
    published = flows().get(leg.site_version_id) if leg.site_version_id is not None else None
    if published is None:
        raise FlowError(f"flows version {leg.site_version_id} of agent leg {leg.call_sid} is missing")
    return published


def _agent_leg(signed_in: bool) -> calllog.Leg | None:
    """This request's leg if it is on the agent line (and signed in, or not yet, as asked)."""
    leg = calllog.find_leg(session(), request.form["CallSid"])
    if leg is None or leg.role != "agent" or leg.site_version_id is None:
        return None
    if signed_in:
        return leg if leg.desk is not None and leg.node in SIGNED_IN else None
    return leg if leg.desk is None and leg.node in SIGNING_IN else None


def _unknown() -> Response:
    log.warning("agent line step %s for a call not at that step: %s", request.path, request.form["CallSid"])
    return fallback_twiml(None)


def _desk(leg: calllog.Leg) -> tuple[AgentLine | None, Desk]:
    site = _published(leg).site
    desk = site.desks.get(leg.desk or "")
    if desk is None or desk.queue is None:
        raise FlowError(f"agent leg {leg.call_sid}: desk {leg.desk!r} has no queue in its flows version")
    return site.agent_line, desk


# -- steps -----------------------------------------------------------------------------------------


@agent_step(_apology)
def answer_incoming(published: Published) -> Response:
    """A call to an agent line number: log it as an agent leg and ask for the agent id."""
    s = session()
    now = clock()
    form = request.form
    found = calllog.find_call(s, form["CallSid"])  # a retried request keeps the failed attempts counted
    leg = found or calllog.insert_call(s, form, now)
    tries = found.tries if found is not None else {}
    calllog.update_leg(
        s, leg.id, role="agent", site_version_id=published.id, node="agent_id", variables={}, tries=tries
    )
    calllog.add_event(s, leg.id, "agent_line_called", "agent_id", now=now, number=form.get("To", ""))
    s.commit()
    line = published.site.agent_line
    return _ask(line, "voice.agent_id", "Agent line. Please enter your agent ID, followed by the pound key.")


@bp.post("/agent/id", endpoint="agent_id")
@agent_step(_apology)
def agent_id() -> Response:
    """The agent id keyed in: keep it and ask for the PIN (whatever the id, so nothing is revealed)."""
    s = session()
    now = clock()
    leg = _agent_leg(signed_in=False)
    if leg is None:
        return _unknown()
    entered = request.form.get("Digits", "")[:16]
    calllog.update_leg(s, leg.id, node="agent_pin", variables={"entered_id": entered})
    calllog.add_event(s, leg.id, "agent_id_entered", "agent_id", now=now, agent_id=entered)
    s.commit()
    line = _published(leg).site.agent_line
    return _ask(line, "voice.agent_pin", "Please enter your PIN, followed by the pound key.")


@bp.post("/agent/pin", endpoint="agent_pin")
@agent_step(_apology)
def agent_pin() -> Response:
    """The PIN keyed in: sign the agent in, or say the pair is wrong (at most MAX_ATTEMPTS times)."""
    s = session()
    now = clock()
    leg = _agent_leg(signed_in=False)
    if leg is None:
        return _unknown()
    site = _published(leg).site
    line = site.agent_line
    entered = str(leg.variables.get("entered_id", ""))
    agent = verify_agent(s, entered, request.form.get("Digits", ""), now)
    if agent is None:
        attempts = int(leg.tries.get("sign_in", 0)) + 1
        calllog.add_event(
            s, leg.id, "agent_sign_in_failed", "agent_pin", now=now, agent_id=entered, attempt=attempts
        )
        if attempts >= MAX_ATTEMPTS:
            calllog.update_leg(s, leg.id, node="agent_locked_out", variables={}, tries={"sign_in": attempts})
            calllog.add_event(s, leg.id, "agent_locked_out", "agent_pin", now=now, attempts=attempts)
            s.commit()
            return _goodbye("That agent ID and PIN do not match. Too many attempts. Goodbye.", line)
        calllog.update_leg(s, leg.id, node="agent_id", variables={}, tries={"sign_in": attempts})
        s.commit()
        return _ask(
            line,
            "voice.agent_id",
            "That agent ID and PIN do not match. Please enter your agent ID, followed by the pound key.",
        )
    desk = site.desks.get(agent.desk)
    refusal = None
    if not agent.active:
        refusal = "inactive", "This agent account is not active. Please contact your supervisor."
    elif desk is None:
        refusal = "unknown_desk", "Your desk is not set up on this line. Please contact your supervisor."
    elif desk.queue is None:
        refusal = "no_queue", f"{desk.label} takes its calls by phone, not from a queue."
    if refusal is not None:
        reason, message = refusal
        calllog.update_leg(s, leg.id, agent=agent.agent_id, node="agent_refused", variables={})
        calllog.add_event(
            s,
            leg.id,
            "agent_refused",
            "agent_pin",
            now=now,
            agent=agent.agent_id,
            desk=agent.desk,
            reason=reason,
        )
        s.commit()
        return _goodbye(f"{message} Goodbye.", line)
    assert desk is not None
    calllog.update_leg(
        s, leg.id, desk=desk.name, agent=agent.agent_id, node="agent_ready", variables={}, tries={}
    )
    calllog.add_event(
        s,
        leg.id,
        "agent_signed_in",
        "agent_ready",
        now=now,
        agent=agent.agent_id,
        desk=desk.name,
        queue=desk.queue,
    )
    s.commit()
    welcome = f"Welcome{', ' + agent.name if agent.name else ''}. You are signed in."
    return _ready(line, desk, f"{welcome} Press star to end a call.", between_calls=False)


@bp.post("/agent/whisper", endpoint="agent_whisper")
@agent_step(_empty)
def agent_whisper() -> Response:
    """The Queue noun's url, run for the dequeued caller: link the caller's leg and the agent's."""
    s = session()
    now = clock()
    form = request.form
    caller = calllog.find_leg(s, form["CallSid"])
    agent = calllog.find_leg(s, form.get("DequeingCallSid", ""))
    if caller is None or agent is None or agent.agent is None:
        log.warning(
            "whisper for caller %s and agent leg %s: %s not in the log",
            form["CallSid"],
            form.get("DequeingCallSid"),
            "caller" if caller is None else "signed-in agent",
        )
        return _empty()
    queue_time = calllog.int_param(form.get("QueueTime"))
    bridged: dict[str, Any] = {
        "agent": agent.agent,
        "agent_call_sid": agent.call_sid,
        "queue_time": queue_time,
    }
    if caller.desk != agent.desk:  # the caller keeps their desk; the agent's is noted
        log.warning(
            "caller %s of desk %s taken by agent %s of desk %s",
            caller.call_sid,
            caller.desk,
            agent.agent,
            agent.desk,
        )
        bridged["agent_desk"] = agent.desk
    calllog.update_leg(s, caller.id, agent=agent.agent, peer_call_sid=agent.call_sid)
    calllog.add_event(s, caller.id, "agent_bridged", caller.node, now=now, **bridged)
    calllog.update_leg(s, agent.id, peer_call_sid=caller.call_sid, node="agent_talking")
    calllog.add_event(
        s,
        agent.id,
        "agent_bridged",
        "agent_talking",
        now=now,
        caller_call_sid=caller.call_sid,
        queue_time=queue_time,
    )
    s.commit()
    return _empty()


def _bridged_caller(leg: calllog.Leg, dial_sid: str) -> calllog.Leg | None:
    """The caller this agent just talked to: the DialCallSid's leg, else the whisper's link."""
    s = session()
    found = calllog.find_leg(s, dial_sid) if dial_sid else None
    if found is not None and found.role == "caller":
        return found
    linked = calllog.find_leg(s, leg.peer_call_sid) if leg.peer_call_sid else None
    if linked is not None and linked.peer_call_sid == leg.call_sid:
        return linked
    return None


@bp.post("/agent/dialed", endpoint="agent_dialed")
@agent_step(_apology)
def agent_dialed() -> Response:
    """The agent's Dial on the queue ended: store the talk time on the caller, then offer the next caller."""
    s = session()
    now = clock()
    form = request.form
    leg = _agent_leg(signed_in=True)
    if leg is None:
        return _unknown()
    line, desk = _desk(leg)
    status = form.get("DialCallStatus", "")
    talk = calllog.int_param(form.get("DialCallDuration"))
    if status in ANSWERED_DIAL:
        caller = _bridged_caller(leg, form.get("DialCallSid", ""))
        if caller is None:
            calllog.add_event(
                s,
                leg.id,
                "agent_call_unmatched",
                "agent_ready",
                now=now,
                status=status,
                talk_time=talk,
                dial_call_sid=form.get("DialCallSid"),
            )
        else:
            calllog.update_leg(s, caller.id, talk_time=talk, agent=leg.agent, peer_call_sid=leg.call_sid)
            calllog.add_event(
                s,
                caller.id,
                "agent_call_ended",
                caller.node,
                now=now,
                agent=leg.agent,
                talk_time=talk,
                agent_call_sid=leg.call_sid,
            )
            calllog.add_event(
                s,
                leg.id,
                "agent_call_ended",
                "agent_ready",
                now=now,
                caller_call_sid=caller.call_sid,
                status=status,
                talk_time=talk,
            )
        opening = "Call ended."
    else:
        calllog.add_event(
            s, leg.id, "agent_queue_empty", "agent_ready", now=now, status=status, queue=desk.queue
        )
        opening = "Nobody is waiting."
    if form.get("CallStatus") in TERMINAL_STATUSES:  # the agent hung up; Twilio ignores this answer
        calllog.update_leg(s, leg.id, node="agent_signed_out")
        calllog.add_event(s, leg.id, "agent_signed_out", "agent_signed_out", now=now, how="hung up")
        s.commit()
        return _goodbye("Goodbye.", line)
    calllog.update_leg(s, leg.id, node="agent_ready")
    s.commit()
    return _ready(line, desk, opening, between_calls=True)


@bp.post("/agent/key", endpoint="agent_key")
@agent_step(_apology)
def agent_key() -> Response:
    """A key pressed between callers: * signs out, anything else goes back to the queue."""
    s = session()
    now = clock()
    leg = _agent_leg(signed_in=True)
    if leg is None:
        return _unknown()
    line, desk = _desk(leg)
    digits = request.form.get("Digits", "")
    if "*" in digits:
        calllog.update_leg(s, leg.id, node="agent_signed_out")
        calllog.add_event(s, leg.id, "agent_signed_out", "agent_signed_out", now=now, how="star")
        s.commit()
        return _goodbye("You are signed out. Goodbye.", line)
    calllog.add_event(s, leg.id, "agent_key", "agent_ready", now=now, digits=digits[:8])
    s.commit()
    return _ready(line, desk, "", between_calls=False)
