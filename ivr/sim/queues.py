"""Queues on the simulated carrier: who answers a queued caller, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from .people import Agents

if TYPE_CHECKING:
    from .call import SimulatedCall


@dataclass
class Ticket:
    """A caller's place in a queue; answered_at is set when an agent takes the call."""

    queue: str
    call: SimulatedCall
    joined_at: datetime
    answered_at: datetime | None = None
    agent: str = ""
    talk_seconds: float = 0.0


@dataclass
class Waiter:
    """An agent's <Dial> waiting on an empty queue; answered_at is set when a caller is handed over."""

    call: SimulatedCall
    answered_at: datetime | None = None
    ticket: Ticket | None = None


class Queues(Protocol):
    """Twilio's queues as the simulator sees them."""

    def join(self, queue: str, call: SimulatedCall) -> Ticket:
        """Put a caller in a queue."""

    def leave(self, ticket: Ticket) -> None:
        """Take a caller out of a queue unanswered (hung up, or Leave)."""

    def position(self, ticket: Ticket) -> dict[str, str]:
        """QueuePosition and CurrentQueueSize for a wait request."""

    def take(self, queue: str, agent: SimulatedCall) -> Ticket | None:
        """An agent's <Dial><Queue>: answer the longest-waiting caller, if any."""

    def wait(self, queue: str, agent: SimulatedCall) -> Waiter:
        """An agent's <Dial><Queue> on an empty queue: wait for the next caller to join."""

    def stop_waiting(self, waiter: Waiter) -> None:
        """The agent's wait is over (a caller came, the Dial timed out, or the agent hung up)."""


class FixedQueues:
    """One call at a time: an agent answers after a fixed wait (or never)."""

    def __init__(self, agents: Agents) -> None:
        self.agents = agents

    def join(self, queue: str, call: SimulatedCall) -> Ticket:
        """Every queue answers `answer_after` seconds after the caller joins."""
        now = call.clock.now()
        after = self.agents.answer_after
        answered = now + timedelta(seconds=after) if after is not None else None
        return Ticket(queue, call, now, answered, self.agents.agent, self.agents.talk_seconds)

    def leave(self, ticket: Ticket) -> None:
        """Nothing to do: nobody else is waiting."""

    def position(self, ticket: Ticket) -> dict[str, str]:
        """Always first in line."""
        return {"QueuePosition": "1", "CurrentQueueSize": "1"}

    def take(self, queue: str, agent: SimulatedCall) -> Ticket | None:
        """Nobody else is on the line to take."""
        return None

    def wait(self, queue: str, agent: SimulatedCall) -> Waiter:
        """Nobody will join: the wait lasts until the Dial's timeout."""
        return Waiter(agent)

    def stop_waiting(self, waiter: Waiter) -> None:
        """Nothing to do."""
