"""A step's effects handed to their owners in the step's transaction: a registry from effect type to owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ..calls import log as calllog
from ..campaigns.dnc import opt_out_call
from ..engine import AddToDoNotCall, Effect, StepResult

# An owner applies one effect to the call (by row id) and returns what happened, for the call's timeline.
Owner = Callable[[Session, int, Any], dict[str, Any]]


def _add_to_do_not_call(session: Session, call_id: int, _effect: AddToDoNotCall) -> dict[str, Any]:
    return opt_out_call(session, call_id)


OWNERS: dict[type[Effect], Owner] = {
    AddToDoNotCall: _add_to_do_not_call,
}


def apply_effects(session: Session, call: calllog.CallRef, result: StepResult) -> None:
    """Hand each effect of a saved step to its owner and log what it did as an event named after it."""
    for effect in result.effects:
        done = OWNERS[type(effect)](session, call.id, effect)
        calllog.add_event(session, call.id, effect.name, result.state.node, **done)


def save_and_apply(session: Session, call: calllog.CallRef, version_id: int, result: StepResult) -> None:
    """Store a step in the call log, then apply its effects (all in the caller's transaction)."""
    calllog.save_step(session, call, version_id, result)
    apply_effects(session, call, result)
