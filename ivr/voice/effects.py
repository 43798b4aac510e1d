"""A step's effects handed to their owners in the step's transaction: a registry from effect type to owner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..calls import log as calllog
from ..campaigns.dnc import opt_out_call
from ..engine import AddToDoNotCall, Effect, StepResult

# An owner applies one effect to the call (by row id) at `now`; it returns what it did, for the timeline.
Owner = Callable[[Session, int, Any, datetime], dict[str, Any]]


def _add_to_do_not_call(
    session: Session, call_id: int, _effect: AddToDoNotCall, now: datetime
) -> dict[str, Any]:
    return opt_out_call(session, call_id, now)


OWNERS: dict[type[Effect], Owner] = {
    AddToDoNotCall: _add_to_do_not_call,
}


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
