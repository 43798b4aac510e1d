"""The agent line's webhooks (/voice/agent/...): read the legs, run ivr.engine.agent_line, log, answer.
Twilio's behaviour it relies on, the leg's nodes: docs/desks.md, "How the agent line works with Twilio"."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.engine import Connection

from ..accounts.agents import find_keyed, keyed_id, verify_agent
from ..calls import log as calllog
from ..calls import steps
from ..calls.driver import Runner
from ..db import session
from ..engine import FlowError, Site
from ..engine import agent_line as line
from ..engine.params import int_param
from ..extensions import clock, flows
from ..flows.store import Published
from ..models import TERMINAL_STATUSES
from . import pin_try, repeats
from .responses import fallback_twiml, twiml
from .wrappers import call_step

log = logging.getLogger(__name__)
bp = Blueprint("agent", __name__)
MAX_TYPED = 64  # characters of Digits hashed at most (ids and PINs are at most 16 and 12)


def _apology() -> Response:
    return twiml(line.apology())


def _nothing() -> Response:
    return twiml([])


def _site(leg: line.Leg) -> Site:
    published = flows().get(leg.site_version_id) if leg.site_version_id is not None else None
    if published is None:
        raise FlowError(f"flows version {leg.site_version_id} of agent leg {leg.call_sid} is missing")
    return published.site


def _stray() -> Response:
    """The answer to a step for a call not at that step: an apology and a hang-up."""
    log.warning("agent line step %s for a call not at that step: %s", request.path, request.form["CallSid"])
    return fallback_twiml(None)


def _held() -> Connection:
    """This thread's held connection (ivr.db): the agent line's reads and writes use it."""
    return steps.held()[1]


def _run() -> Connection | Runner:
    """What runs the agent line's reads on the held connection (ivr.calls.steps)."""
    connection = _held()
    return steps.for_dialect(connection.dialect.name).executor(connection)


def _answer(result: line.LineStep, now: datetime) -> Response:
    """Store the step's leg changes, made `now`, with the answer to its actions, kept for repeats: one
    write (ivr.calls.steps)."""
    return _write(result, now)[0]


def _write(
    result: line.LineStep,
    now: datetime,
    gate: steps.Gate | None = None,
    values: Mapping[str, Any] | None = None,
) -> tuple[Response, tuple[Any, ...]]:
    """`_answer`, after a `gate` on PostgreSQL (a PIN try's counts): the answer, and the statement's row,
    whose first column tells whether the step was written (the gate passed)."""
    answer = twiml(result.actions)
    connection = _held()
    legs = [steps.Leg(c.leg_id, c.updates.changed(), c.log) for c in result.changes]
    row = repeats.answer_row(g.get("repeat_key"), answer)
    store = steps.for_dialect(connection.dialect.name)
    done: tuple[Any, ...] = (1,)
    if gate is not None and isinstance(store, steps.PostgreSQLSteps):
        done = store.write_legs_gated(connection, legs, now, row, gate, values)
    else:
        store.write_legs(connection, legs, now, row)
    if done[0] and row is not None:
        repeats.mark_kept()
    return answer, done


def _answer_in_session(result: line.LineStep, now: datetime) -> Response:
    """Store the step's leg changes in the session's transaction, with what the session wrote before them
    (the PIN check's counts), and commit them with the answer."""
    s = session()
    calllog.save_legs(s, result.changes, now)
    return repeats.commit_with_answer(s, twiml(result.actions))


def _find_leg(sid: str) -> line.Leg | None:
    run = _run()
    found = calllog.find_leg(run, sid)
    run.commit()  # SQLite: no transaction left open between requests
    return found


def _leg() -> line.Leg | None:
    return _find_leg(request.form["CallSid"])


@call_step(fallback=_apology)
def answer_incoming(published: Published) -> Response:
    """A call to an agent line number: log it as an agent leg and ask for the agent id."""
    form = request.form
    now = clock()
    leg = _leg()
    if leg is None:
        run = _run()
        calllog.insert_call(run, form, now)
        run.commit()
        leg = _leg()
        assert leg is not None
    return _answer(line.step(published.site, leg, line.Called(form.get("To", ""), published.id)), now)


@bp.post("/agent/id", endpoint="id")
@call_step(fallback=_apology)
def agent_id() -> Response:
    """The agent id keyed in: keep its keyed hash (never the digits) and ask for the PIN."""
    leg = _leg()
    if not line.at_step(leg, "id"):
        return _stray()
    digits = request.form.get("Digits", "")[:MAX_TYPED]
    entered = line.IdEntered(keyed_id(current_app.secret_key or "", digits), len(digits))
    return _answer(line.step(_site(leg), leg, entered), clock())


def _one_write(store: steps.Steps) -> TypeGuard[steps.PostgreSQLSteps]:
    """Whether a PIN try is read, judged, then written in one write (PostgreSQL: ivr.voice.pin_try), rather
    than checked and written in a Session's transaction."""
    return isinstance(store, steps.PostgreSQLSteps)


@bp.post("/agent/pin", endpoint="pin")
@call_step(fallback=_apology)
def agent_pin() -> Response:
    """The PIN keyed in: checked here (a lockout spans calls), then sign in, retry, lock out or refuse."""
    leg = _leg()
    if not line.at_step(leg, "pin"):
        return _stray()
    site = _site(leg)
    now, form, secret = clock(), request.form, current_app.secret_key or ""
    pin, caller, called = form.get("Digits", "")[:MAX_TYPED], form.get("From", ""), form.get("To", "")
    store, connection = steps.held()
    if not _one_write(store):  # SQLite: the check and the step in one transaction
        s = session()
        keyed = line.entered_id(leg)
        typed = find_keyed(s, secret, keyed) if keyed else None
        checked = verify_agent(s, typed, pin, caller, called, now)
        agent = checked.agent
        account = None
        if agent is not None:
            account = line.Account(agent.agent_id, agent.desk, agent.name, agent.active, agent.pin_expired)
        return _answer_in_session(line.step(site, leg, line.PinChecked(account, checked.locked)), now)
    tried = pin_try.tried(store.executor(connection), secret, line.entered_id(leg), pin, caller, called, now)
    answer, done = _write(line.step(site, leg, tried.event), now, tried.gate, tried.values)
    if done[0]:
        return answer
    # another wrong PIN on this line or phone was counted since the read: the locks are not as foretold
    return _answer(line.step(site, leg, tried.again(done)), now)


@bp.post("/agent/whisper", endpoint="whisper")
@call_step(fallback=_nothing)
def agent_whisper() -> Response:
    """The Queue noun's url, run for the dequeued caller: link the caller's leg and the agent's."""
    form = request.form
    caller = _leg()
    agent = _find_leg(form.get("DequeingCallSid", ""))
    if caller is None or not line.at_step(agent, "whisper"):
        missing = "caller" if caller is None else "signed-in agent"
        log.warning(
            "whisper for caller %s and agent leg %s: %s not in the log",
            form["CallSid"],
            form.get("DequeingCallSid"),
            missing,
        )
        return _nothing()
    whispered = line.Whispered(caller, int_param(form.get("QueueTime")))
    return _answer(line.step(_site(agent), agent, whispered), clock())


@bp.post("/agent/dialed", endpoint="dialed")
@call_step(fallback=_apology)
def agent_dialed() -> Response:
    """The agent's Dial on the queue ended: store the talk time on the caller, then offer the next caller."""
    form = request.form
    leg = _leg()
    if not line.at_step(leg, "dialed"):
        return _stray()
    dial_sid = form.get("DialCallSid", "")
    dialed = line.Dialed(
        status=form.get("DialCallStatus", ""),
        talk_time=int_param(form.get("DialCallDuration")),
        dial_call_sid=form.get("DialCallSid"),
        hung_up=form.get("CallStatus") in TERMINAL_STATUSES,
        dialed=_find_leg(dial_sid) if dial_sid else None,
        linked=_find_leg(leg.peer_call_sid) if leg.peer_call_sid else None,
    )
    return _answer(line.step(_site(leg), leg, dialed), clock())


@bp.post("/agent/key", endpoint="key")
@call_step(fallback=_apology)
def agent_key() -> Response:
    """A key pressed between callers: * signs out, anything else goes back to the queue."""
    leg = _leg()
    if not line.at_step(leg, "key"):
        return _stray()
    return _answer(line.step(_site(leg), leg, line.KeyPressed(request.form.get("Digits", ""))), clock())
