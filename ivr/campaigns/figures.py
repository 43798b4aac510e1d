"""Campaign figures from counted rows: contacts by state, calls by outcome, the abandonment rate. Pure.
The definitions are in docs/campaigns.md, "Figures" and "Abandonment rate"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..engine.actions import MACHINE_ANSWERS

ABANDON_LIMIT = 0.03
AGENT_WITHIN_SECONDS = 2
ABANDON_DAYS = 30
CONNECTED_RESULTS = ("bridged", "redirected-from-bridged")
IN_FLIGHT = frozenset({"queued", "initiated", "ringing"})
ANSWERED = frozenset({"in-progress", "completed"})
OUTCOME_OF_STATUS = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "failed"}


def attempt_outcome(status: str, answered_by: str | None) -> str:
    """The figure an attempt counts in: not_dialled, in_progress, human, machine, no_answer, busy, failed."""
    if status == "pending":
        return "not_dialled"
    if status in IN_FLIGHT:
        return "in_progress"
    if status in ANSWERED:
        return "machine" if answered_by in MACHINE_ANSWERS else "human"
    return OUTCOME_OF_STATUS.get(status, "failed")


@dataclass(frozen=True)
class Abandonment:
    """Human-answered calls not connected to an agent within 2 s, against the 3% limit."""

    applicable: bool  # the campaign has a desk that takes connected calls
    answered: int = 0  # human-answered calls that ended in the last 30 days
    abandoned: int = 0

    @property
    def rate(self) -> float | None:
        """abandoned / answered; None when not applicable or nothing was answered yet."""
        return self.abandoned / self.answered if self.applicable and self.answered else None

    @property
    def over_limit(self) -> bool | None:
        """Whether the rate is above 3% (None without a rate)."""
        rate = self.rate
        return None if rate is None else rate > ABANDON_LIMIT

    def describe(self) -> str:
        """The rate in words, with the limit."""
        if not self.applicable:
            return "not applicable: the campaign has no desk to connect answered calls to"
        rate = self.rate
        if rate is None:
            return "no human-answered calls yet (limit 3%)"
        verdict = "ABOVE the 3% limit" if self.over_limit else "within the 3% limit"
        return (
            f"{rate:.1%} ({self.abandoned} of {self.answered} human-answered calls in the last "
            f"{ABANDON_DAYS} days not connected to an agent within {AGENT_WITHIN_SECONDS} s), {verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The figure as JSON."""
        return {
            "applicable": self.applicable,
            "answered_by_human": self.answered,
            "abandoned": self.abandoned,
            "rate": self.rate,
            "limit": ABANDON_LIMIT,
            "over_limit": self.over_limit,
            "days": ABANDON_DAYS,
            "agent_within_seconds": AGENT_WITHIN_SECONDS,
            "text": self.describe(),
        }


@dataclass(frozen=True)
class Figures:
    """One campaign's figures."""

    contacts: int
    remaining: int  # pending + dialling
    deferred_window: int  # pending, waiting for their calling window
    skipped_do_not_call: int
    done: int
    exhausted: int  # contacts given up on: attempts used up, or refused by Twilio
    cancelled: int
    dialled: int
    in_progress: int
    answered_human: int
    answered_machine: int
    no_answer: int
    busy: int
    failed: int
    abandonment: Abandonment

    @property
    def progress(self) -> float:
        """The share of contacts that need no more calls (0 for an empty list)."""
        return (self.contacts - self.remaining) / self.contacts if self.contacts else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON."""
        out = asdict(self)
        out["abandonment"] = self.abandonment.as_dict()
        out["progress"] = round(self.progress, 4)
        return out


def figures(
    contacts: Iterable[tuple[str, str | None, int]],
    attempts: Iterable[tuple[str, str | None, int]],
    abandonment: Abandonment,
) -> Figures:
    """Figures from counted rows: (state, last_outcome, n) of contacts, (status, answered_by, n) of calls."""
    states: dict[str, int] = {}
    deferred = 0
    for state, last_outcome, n in contacts:
        states[state] = states.get(state, 0) + n
        if state == "pending" and last_outcome == "deferred-window":
            deferred += n
    calls: dict[str, int] = {}
    for status, answered_by, n in attempts:
        outcome = attempt_outcome(status, answered_by)
        calls[outcome] = calls.get(outcome, 0) + n
    return Figures(
        contacts=sum(states.values()),
        remaining=states.get("pending", 0) + states.get("dialling", 0),
        deferred_window=deferred,
        skipped_do_not_call=states.get("skipped", 0),
        done=states.get("done", 0),
        exhausted=states.get("failed", 0),
        cancelled=states.get("cancelled", 0),
        dialled=sum(n for outcome, n in calls.items() if outcome != "not_dialled"),
        in_progress=calls.get("in_progress", 0),
        answered_human=calls.get("human", 0),
        answered_machine=calls.get("machine", 0),
        no_answer=calls.get("no_answer", 0),
        busy=calls.get("busy", 0),
        failed=calls.get("failed", 0),
        abandonment=abandonment,
    )


def is_abandoned(queue_result: str | None, queue_time: int | None) -> bool:
    """Whether a human-answered call's row shows no agent within 2 s (the rule the SQL count follows)."""
    return not (
        queue_result in CONNECTED_RESULTS and queue_time is not None and queue_time <= AGENT_WITHIN_SECONDS
    )


LABELS: Mapping[str, str] = {
    "contacts": "Contacts",
    "dialled": "Calls dialled",
    "in_progress": "Calls in progress",
    "answered_human": "Answered by a person",
    "answered_machine": "Answered by a machine",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "skipped_do_not_call": "Skipped: on the do-not-call list",
    "deferred_window": "Waiting for their calling window",
    "remaining": "Remaining (to call or being called)",
    "done": "Done",
    "exhausted": "Given up (attempts used up or refused)",
    "cancelled": "Cancelled",
}
