"""The voice blueprint: validate, load state, run the engine, log, render, commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import TypeVar

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import HTTPException

from ..calls import log as calllog
from ..calls import queues
from ..db import session
from ..engine import CallContext, CallState, FlowError, start, step
from ..extensions import clock, flows
from .responses import fallback_twiml, twiml
from .security import check_body, check_identifiers, check_signature
from .twiml import render

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")
EVENTS = ("input", "wait", "result")
F = TypeVar("F", bound=Callable[..., Response])


@bp.before_request
def _checks() -> None:
    check_body()
    check_signature()
    check_identifiers()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    return (
        f"{error.code} {error.name}: {error.description}\n",
        error.code or 400,
        {"Content-Type": "text/plain"},
    )


def call_step(handler: F) -> F:
    """Run a call step; on any error roll back, log it with the CallSid and answer the fallback TwiML."""

    @wraps(handler)
    def wrapper(*args: object, **kwargs: object) -> Response:
        sid = request.form["CallSid"]
        try:
            return handler(*args, **kwargs)
        except HTTPException:
            raise
        except Exception as exc:
            session().rollback()
            log.exception("call %s: step %s failed", sid, request.path)
            _note_failure(sid, exc)
            return fallback_twiml(flows().site_for_fallback(), str(kwargs.get("event", "")), request.form)

    return wrapper  # type: ignore[return-value]


def _note_failure(sid: str, exc: Exception) -> None:
    """Best effort: log the call (even one whose first step failed), count the error, log it."""
    try:
        s = session()
        now = clock()
        call = calllog.find_or_insert_call(s, request.form, now)
        calllog.note_error(s, call, request.path, f"{type(exc).__name__}: {exc}", now)
        s.commit()
    except Exception:
        session().rollback()
        log.exception("call %s: could not log the error", sid)


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
        from .agent_line import answer_incoming  # it registers its routes on this blueprint

        return answer_incoming(published)
    call = calllog.find_call(s, request.form["CallSid"])
    if call is None:
        call = calllog.insert_call(s, request.form, now)
    else:
        calllog.add_event(s, call.id, "incoming_repeated", now=now)
    flow = published.site.flow_for_number(request.form.get("To", ""))
    if flow is None:
        raise FlowError(f"no flow answers {request.form.get('To')!r} and none is the default")
    result = start(published.site, flow.name, _context(now))
    calllog.save_step(s, call, published.id, result, now)
    s.commit()
    return twiml(result.actions)


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
    calllog.save_step(s, call, published.id, result, now)
    s.commit()
    return twiml(result.actions)


def callback(answer: Callable[[], Response]) -> Callable[[Callable[[], None]], Callable[[], Response]]:
    """A callback that only logs: run it, commit, and give Twilio `answer` even when it fails.

    A failure is rolled back and logged with every parameter, so the callback can be replayed by hand.
    """

    def decorate(handler: Callable[[], None]) -> Callable[[], Response]:
        @wraps(handler)
        def wrapper() -> Response:
            try:
                handler()
                session().commit()
            except Exception:
                session().rollback()
                log.exception("callback %s failed; parameters: %s", request.path, request.form.to_dict())
            return answer()

        return wrapper

    return decorate


def _no_content() -> Response:
    return Response(status=204)


def _empty_twiml() -> Response:
    return Response(render([], str), content_type="text/xml; charset=utf-8")


@bp.post("/fallback")
@callback(_empty_twiml)
def fallback_done() -> None:
    """Where the fallback's queue, dial or recording reports back: log it (the call then ends)."""
    s = session()
    call = calllog.find_call(s, request.form["CallSid"])
    if call is not None:
        fields = ("QueueResult", "QueueTime", "DialCallStatus", "DialCallDuration", "RecordingUrl")
        outcome = {k: v for k, v in request.form.items() if k in fields}
        calllog.add_event(s, call.id, "fallback_result", now=clock(), **outcome)


@bp.post("/transcription")
@callback(_no_content)
def transcription() -> None:
    """Twilio's transcription of a voicemail: kept on the call and in its timeline."""
    s = session()
    call = calllog.find_call(s, request.form["CallSid"])
    if call is not None:
        text = request.form.get("TranscriptionText", "")
        calllog.set_transcription(s, call, request.form.get("TranscriptionStatus", ""), text, clock())


@bp.post("/status")
@callback(_no_content)
def status() -> None:
    """A call status callback: applied once, never moving a call back from a final status."""
    now = clock()
    applied = calllog.apply_status(session(), request.form, now)
    # Only a call ivr placed can be a campaign's: inbound callbacks skip the attempts lookup.
    if applied and request.form.get("Direction", "").startswith("outbound-api"):
        from ..campaigns.attempts import on_status  # a campaign's call: its attempt and contact move on too

        on_status(session(), request.form, request.args.get("attempt"), now)
