"""A step's effects: what each writes in the step's one write (ivr.calls.steps), and, on a Session, their
owners (the transactional path); a registry from effect type to each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..calls import log as calllog
from ..calls import steps
from ..campaigns.dnc import DNC, opt_out, opt_out_call
from ..engine import AddToDoNotCall, Effect, LogEntry, StepResult

# An owner applies one effect to the call (by row id) at `now`; it returns what it did, for the timeline.
Owner = Callable[[Session, int, Any, datetime], dict[str, Any]]
# A planner tells what one effect of a step at `node` writes with it at `now`, from the request's parameters
# (its CallSid, From, To and Direction, as Twilio sends them on every request and as the call was logged).
Planner = Callable[[Mapping[str, str], Any, str | None, datetime], LogEntry | steps.Added]


def _add_to_do_not_call(
    session: Session, call_id: int, _effect: AddToDoNotCall, now: datetime
) -> dict[str, Any]:
    return opt_out_call(session, call_id, now)


def _plan_do_not_call(
    params: Mapping[str, str], effect: AddToDoNotCall, node: str | None, now: datetime
) -> LogEntry | steps.Added:
    plan = opt_out(calllog.call_values(params, now), now)
    if plan.entry is None:
        return LogEntry(effect.name, node, plan.skipped)
    return steps.Added(effect.name, node, DNC, plan.entry, plan.added, plan.skipped)


OWNERS: dict[type[Effect], Owner] = {
    AddToDoNotCall: _add_to_do_not_call,
}
PLANNERS: dict[type[Effect], Planner] = {
    AddToDoNotCall: _plan_do_not_call,
}


def planned(params: Mapping[str, str], result: StepResult, now: datetime) -> list[LogEntry | steps.Added]:
    """What a step's effects write with it, in order (ivr.calls.steps: `effects`)."""
    return [PLANNERS[type(effect)](params, effect, result.state.node, now) for effect in result.effects]


def apply_effects(session: Session, call: calllog.CallRef, result: StepResult, now: datetime) -> None:
    """Hand each effect of a saved step to its owner and log what it did as an event named after it."""
    for effect in result.effects:
        done = OWNERS[type(effect)](session, call.id, effect, now)
        calllog.add_event(session, call.id, effect.name, result.state.node, now=now, **done)


def save_and_apply(
    session: Session, call: calllog.CallRef, version_id: int, result: StepResult, now: datetime
) -> None:
    """Store a step in the call log, then apply its effects (all in the caller's transaction)."""
    calllog.save_step(session, call, version_id, result, now)
    apply_effects(session, call, result, now)
