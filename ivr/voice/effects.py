"""A step's effects: what each writes in the step's one write (ivr.calls.steps), from a registry from effect
type to its planner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..calls import log as calllog
from ..calls import steps
from ..campaigns.dnc import DNC, opt_out
from ..engine import AddToDoNotCall, Effect, LogEntry, StepResult

# A planner tells what one effect of a step at `node` writes with it at `now`, from the request's parameters
# (its CallSid, From, To and Direction, as Twilio sends them on every request and as the call was logged).
Planner = Callable[[Mapping[str, str], Any, str | None, datetime], LogEntry | steps.Added]


def _plan_do_not_call(
    params: Mapping[str, str], effect: AddToDoNotCall, node: str | None, now: datetime
) -> LogEntry | steps.Added:
    plan = opt_out(calllog.call_values(params, now), now)
    if plan.entry is None:
        return LogEntry(effect.name, node, plan.skipped)
    return steps.Added(effect.name, node, DNC, plan.entry, plan.added, plan.skipped)


PLANNERS: dict[type[Effect], Planner] = {
    AddToDoNotCall: _plan_do_not_call,
}


def planned(params: Mapping[str, str], result: StepResult, now: datetime) -> list[LogEntry | steps.Added]:
    """What a step's effects write with it, in order (ivr.calls.steps: `effects`)."""
    return [PLANNERS[type(effect)](params, effect, result.state.node, now) for effect in result.effects]
