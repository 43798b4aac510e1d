"""A call's webhooks: its first request, each next step of its flow, and the callbacks that only log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from flask import Blueprint, Response, abort, g, request
from sqlalchemy.engine import Connection

from ..calls import log as calllog
from ..calls import queues, steps
from ..calls.driver import Runner
from ..campaigns import attempts, placed_status
from ..db import session
from ..engine import CallContext, CallState, FlowError, LogEntry, Site, StepResult, start, step
from ..extensions import clock, flows
from . import repeats
from .agent_line import answer_incoming
from .effects import planned
from .responses import fallback_twiml, twiml
from .twiml import render
from .wrappers import Fast, call_step, callback

log = logging.getLogger(__name__)
bp = Blueprint("flow", __name__)
EVENTS = ("input", "wait", "result")


def _context(run: Connection | Runner, now: datetime) -> CallContext:
    form = request.form
    return CallContext(
        call_sid=form["CallSid"],
        caller=form.get("From", ""),
        called=form.get("To", ""),
        now=now,
        queues=queues.figures(run, now),
    )


def _save(
    connection: Connection, call: calllog.CallRef, version_id: int, result: StepResult, now: datetime
) -> Response:
    """Store a step made `now`, what its effects write and its answer, kept for repeats, before answering."""
    answer = twiml(result.actions)
    store = steps.for_dialect(connection.dialect.name)
    values = calllog.step_values(version_id, result)
    effects = planned(request.form, result, now)
    store.write(connection, call.id, values, result.log, now, _kept_answer(answer), effects)
    return answer


def _kept_answer(answer: Response) -> steps.Answer | None:
    row = repeats.answer_row(g.get("repeat_key"), answer)
    if row is not None:
        repeats.mark_kept()
    return row


@bp.post("/incoming")
@call_step(reads_kept=True)
def incoming() -> Response:
    """A new call: find the flow for the number called and run it from its start."""
    now = clock()
    published = flows().current()
    if published is None:
        raise FlowError("no valid flows have ever been published")
    store, connection = steps.held()
    key = g.get("repeat_key")
    line = published.site.agent_line
    if line is not None and request.form.get("To", "") in line.numbers:
        kept = store.kept(connection, key)
        return repeats.kept_response(kept) if kept is not None else answer_incoming(published)
    # A status callback ('initiated', 'ringing') usually logs the call before this request: only a call whose
    # flow has started already is a repeat. Its first answer is normally kept (read with the call); without
    # one (kept before that answer was), the start is answered again, not run again.
    found = store.read(connection, request.form["CallSid"], key)
    if found.kept is not None:
        return repeats.kept_response(found.kept)
    run = store.executor(connection)
    call = found.call
    if call is not None and call.site_version_id is not None:
        pinned = flows().get(call.site_version_id)
        if pinned is None:
            raise FlowError(f"flows version {call.site_version_id} is missing")
        return twiml(start(pinned.site, _flow_for(pinned.site), _context(run, now)).actions)
    result = start(published.site, _flow_for(published.site), _context(run, now))
    if call is None:
        # a new call: its row with its first step, its log, what its effects write and its answer in one write
        answer = twiml(result.actions)
        values = calllog.call_values(request.form, now) | calllog.step_values(published.id, result)
        row = repeats.answer_row(key, answer)
        effects = planned(request.form, result, now)
        if store.start(connection, values, result.log, now, row, effects) is not None:
            if row is not None:
                repeats.mark_kept()
            return answer
        # logged meanwhile by another request (a status callback): found, or logged now if removed since
        call = calllog.find_or_insert_call(run, request.form, now)
        run.commit()
    return _save(connection, call, published.id, result, now)


def _flow_for(site: Site) -> str:
    """The flow that answers the number called."""
    flow = site.flow_for_number(request.form.get("To", ""))
    if flow is None:
        raise FlowError("no flow answers the number called and none is the default")
    return flow.name


@bp.post("/step/<flow>/<node>/<event>", endpoint="step")
@call_step(reads_kept=True)
def next_step(flow: str, node: str, event: str) -> Response:
    """The next step of a call in progress: gather input, queue wait or result, dial or recording result."""
    if event not in EVENTS:
        abort(404)
    now = clock()
    store, connection = steps.held()
    found = store.read(connection, request.form["CallSid"], g.get("repeat_key"))
    if found.kept is not None:
        return repeats.kept_response(found.kept)
    call = found.call
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
    context = _context(store.executor(connection), now)
    result = step(published.site, state, event, request.form.to_dict(), context)  # type: ignore[arg-type]
    return _save(connection, call, published.id, result, now)


def _no_content() -> Response:
    return Response(status=204)


def _try_again() -> Response:
    """A status callback that could not be stored (journaled): 503, which Twilio retries when the URL asks
    for retries on 5xx (`#rp=5xx`, docs/call-log.md)."""
    return Response("the call log is unavailable; journaled\n", status=503, content_type="text/plain")


def _empty_twiml() -> Response:
    return Response(render([], str), content_type="text/xml; charset=utf-8")


FALLBACK_RESULTS = ("QueueResult", "QueueTime", "DialCallStatus", "DialCallDuration", "RecordingUrl")


def _fallback_result(form: Mapping[str, str]) -> calllog.Logged:
    """What the fallback's queue, dial or recording reported: one event."""
    outcome: dict[str, object] = {k: v for k, v in form.items() if k in FALLBACK_RESULTS}
    return calllog.Logged({}, [LogEntry("fallback_result", None, outcome)])


def _transcription(form: Mapping[str, str]) -> calllog.Logged:
    """What Twilio's transcription callback reported (ivr.calls.log.transcription)."""
    return calllog.transcription(form.get("TranscriptionStatus", ""), form.get("TranscriptionText", ""))


def _in_one_write(logged: Callable[[Mapping[str, str]], calllog.Logged]) -> Fast:
    """A callback that only logs, stored in one write with its answer kept (ivr.calls.steps)."""

    def fast(key: str | None) -> bool:
        store, connection = steps.held()
        answer = repeats.answer_row(key, Response(status=204))
        store.callback(connection, request.form, logged(request.form), clock(), answer)
        return True

    return fast


@bp.post("/fallback")
@callback(_empty_twiml, fast=_in_one_write(_fallback_result))
def fallback_done() -> None:
    """Where the fallback's queue, dial or recording reports back: log it (the call then ends). The call may
    be only in the journal yet (its first steps answered while the database was down): it is logged now."""
    calllog.log_callback(session(), request.form, _fallback_result(request.form), clock())


@bp.post("/transcription")
@callback(_no_content, unstored=_try_again, fast=_in_one_write(_transcription))
def transcription() -> None:
    """Twilio's transcription of a voicemail: kept on the call (logged now if only the journal has it yet) and
    in its timeline."""
    calllog.log_callback(session(), request.form, _transcription(request.form), clock())


def _status_in_one_write(key: str | None) -> bool:
    """A status callback stored in one write with its answer kept (ivr.calls.steps); a call ivr placed moves
    its campaign's attempt on in the same statement on PostgreSQL (ivr.campaigns.placed_status). False for
    such a call on SQLite: the handler moves it on in the same transaction as its status."""
    store, connection = steps.held()
    answer = repeats.answer_row(key, Response(status=204))
    if not request.form.get("Direction", "").startswith("outbound-api"):
        store.status(connection, request.form, clock(), answer)
    elif connection.dialect.name == "postgresql":
        placed_status.apply(connection, request.form, request.args.get("attempt"), clock(), answer)
    else:
        return False
    return True


@bp.post("/status")
@callback(_no_content, unstored=_try_again, fast=_status_in_one_write)
def status() -> None:
    """A call status callback: applied once, never moving a call back from a final status."""
    now = clock()
    # Only a call ivr placed can be a campaign's (its attempt and contact move on too): inbound callbacks
    # skip the attempts lookup.
    placed = request.form.get("Direction", "").startswith("outbound-api")
    if placed:
        attempts.lock_for(session(), request.form["CallSid"], request.args.get("attempt"))
    applied = calllog.apply_status(session(), request.form, now)
    if applied and placed:
        attempts.on_status(session(), request.form, request.args.get("attempt"), now)
