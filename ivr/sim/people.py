"""The people on a simulated call: the caller's script and how the desk's agents (or dialled party) behave."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Input:
    """What the caller does at one prompt: press digits, say something, or stay silent (both empty)."""

    digits: str = ""
    speech: str = ""
    confidence: float = 0.9


@dataclass
class Caller:
    """A scripted caller: one input per prompt in order, then silence; patience and message length."""

    inputs: deque[Input] = field(default_factory=deque)
    patience: float = 900.0  # seconds in a queue before hanging up
    message_seconds: int = 20  # how long a voicemail they leave
    handle_factor: float = 1.0  # how long their business takes, relative to the desk's mean handle time

    @classmethod
    def scripted(cls, steps: list[Input], **kwargs: float) -> Caller:
        """A caller who answers prompts with `steps`, in order."""
        return cls(deque(steps), **kwargs)  # type: ignore[arg-type]

    def next_input(self) -> Input:
        """The answer to the next prompt (silence once the script is used up)."""
        return self.inputs.popleft() if self.inputs else Input()

    def bridged(self, queue: str) -> None:
        """Called when an agent of `queue` takes the call (a profile's caller picks a survey answer here)."""

    def hangs_up_at(self) -> datetime | None:
        """When this person hangs up while a <Dial> waits for someone to answer (None: never)."""
        return None


class Clock(Protocol):
    """What tells a person the time."""

    def now(self) -> datetime:
        """The time now."""


class ShiftAgent(Caller):
    """An agent on the agent line for one stretch of a shift.

    Keys in the agent id and PIN, stays silent between callers (so the line offers the next one), presses *
    between callers once `until` has passed, and hangs up if `until` passes while waiting for a caller.
    """

    def __init__(self, agent_id: str, pin: str, until: datetime, clock: Clock) -> None:
        super().__init__(deque([Input(digits=f"{agent_id}#"), Input(digits=f"{pin}#")]))
        self.agent_id = agent_id
        self.until = until
        self.clock = clock

    def next_input(self) -> Input:
        """The id, the PIN, then * once the shift is over (silence before)."""
        if self.inputs:
            return self.inputs.popleft()
        return Input(digits="*") if self.clock.now() >= self.until else Input()

    def hangs_up_at(self) -> datetime | None:
        """The end of this stretch of the shift."""
        return self.until


@dataclass
class Agents:
    """The other side: when a queued caller is answered, for how long, and how a dialled number answers."""

    answer_after: float | None = 30.0  # seconds in the queue before an agent takes the call; None: never
    talk_seconds: float = 180.0
    agent: str = "agent-1"
    dial_status: str = "completed"  # completed, busy, no-answer, failed
    ring_seconds: float = 8.0
