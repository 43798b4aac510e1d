"""What happens to a contact after a call: done, due again after the outcome's spacing, or failed. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..engine.actions import MACHINE_ANSWERS

FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
# an attempt's statuses in order; a callback only moves an attempt forward (as calls in the call log)
RANK = {"pending": 0, "queued": 1, "initiated": 2, "ringing": 3, "in-progress": 4, **{s: 5 for s in FINAL}}
ACTIVE = tuple(status for status, rank in RANK.items() if rank < RANK["completed"])
# spacing when a campaign's retry_seconds lacks an outcome (the campaigns' own defaults)
FALLBACK_RETRY = {"busy": 600, "no-answer": 3600, "failed": 3600, "machine": 14400}


def moves_on(before: str, status: str) -> bool:
    """Whether a call's `status` moves its attempt on from `before`: forward only, as a callback does."""
    rank = RANK.get(status)
    return rank is not None and RANK.get(before, rank) < rank


def outcome_of(status: str, answered_by: str | None) -> str:
    """A final call status as a contact outcome: human, machine, busy, no-answer or failed."""
    if status == "completed":
        return "machine" if answered_by in MACHINE_ANSWERS else "human"
    if status in ("busy", "no-answer"):
        return status
    return "failed"  # failed, canceled


@dataclass(frozen=True)
class After:
    """The contact's next state, when it is due again (None: now or never), and its last outcome."""

    state: str
    next_attempt_at: datetime | None
    outcome: str


def after_call(
    outcome: str,
    *,
    machine_detection: str,
    attempts: int,
    max_attempts: int,
    retry_seconds: Mapping[str, Any],
    now: datetime,
) -> After:
    """The contact's fate after an attempt with `outcome` (attempts counts this one).

    A human, or a machine that got the campaign's message (machine_detection message) or the flow
    (machine_detection off: a machine is not told apart), is done. A machine hung up on (hangup), busy,
    no-answer and failed are called again after the outcome's spacing while attempts remain, else failed.
    """
    if outcome == "human" or (outcome == "machine" and machine_detection != "hangup"):
        return After("done", None, outcome)
    if attempts >= max_attempts:
        return After("failed", None, outcome)
    seconds = retry_seconds.get(outcome, FALLBACK_RETRY.get(outcome, 3600))
    return After("pending", now + timedelta(seconds=float(seconds)), outcome)


class Rules(Protocol):
    """A campaign's rules for calling a contact again (a Campaign, or a row with these columns)."""

    @property
    def machine_detection(self) -> str: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_seconds(self) -> Mapping[str, Any]: ...


def fate(status: str, answered_by: str | None, rules: Rules, attempts: int, now: datetime) -> After:
    """The contact's fate after an attempt ended with a final `status` (see `after_call`)."""
    return after_call(
        outcome_of(status, answered_by),
        machine_detection=rules.machine_detection,
        attempts=attempts,
        max_attempts=rules.max_attempts,
        retry_seconds=rules.retry_seconds,
        now=now,
    )
