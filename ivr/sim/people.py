"""The people on a simulated call: the caller's script and how the desk's agents (or dialled party) behave."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


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

    @classmethod
    def scripted(cls, steps: list[Input], **kwargs: float) -> Caller:
        """A caller who answers prompts with `steps`, in order."""
        return cls(deque(steps), **kwargs)  # type: ignore[arg-type]

    def next_input(self) -> Input:
        """The answer to the next prompt (silence once the script is used up)."""
        return self.inputs.popleft() if self.inputs else Input()

    def bridged(self, queue: str) -> None:
        """Called when an agent of `queue` takes the call (a profile's caller picks a survey answer here)."""


@dataclass
class Agents:
    """The other side: when a queued caller is answered, for how long, and how a dialled number answers."""

    answer_after: float | None = 30.0  # seconds in the queue before an agent takes the call; None: never
    talk_seconds: float = 180.0
    agent: str = "agent-1"
    dial_status: str = "completed"  # completed, busy, no-answer, failed
    ring_seconds: float = 8.0
