"""What a call leg costs a desk: telephony per started minute plus the desk's handling cost model (pure).
Prices are the currently published site's, so a price change re-prices the whole log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from .actions import BRIDGED
from .site import Desk

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Leg:
    """The columns of one call leg that its cost depends on."""

    role: str  # caller | agent
    duration: int | None  # CallDuration, s
    talk_time: int | None  # s
    queue_result: str | None

    @property
    def is_agent(self) -> bool:
        """An agent's own leg on the agent line."""
        return self.role == "agent"

    @property
    def answered(self) -> bool:
        """A caller leg bridged to an agent."""
        return not self.is_agent and self.queue_result in BRIDGED


@dataclass(frozen=True)
class CostSums:
    """The sums over a desk's legs that its total cost is made of (summed in SQL, or modelled per day)."""

    billed_minutes: float = 0  # sum of ceil(duration / 60) over every leg
    caller_talk_seconds: float = 0  # sum of talk_time over caller legs
    answered: float = 0  # answered caller legs
    agent_seconds: float = 0  # sum of duration over agent legs


class HandlingModel(ABC):
    """How a desk charges for handling calls: `amount` per unit of the model."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, amount: float) -> None:
        self.amount = amount

    @abstractmethod
    def leg(self, leg: Leg) -> float:
        """The handling cost of one leg."""

    @abstractmethod
    def total(self, sums: CostSums) -> float:
        """The handling cost of all legs, from their sums (equal to the sum of leg())."""


class HandledMinute(HandlingModel):
    """Per minute of talk on caller legs (exact seconds, not rounded)."""

    name = "handled_minute"
    description = "amount x talk_time / 60 on each caller leg"

    def leg(self, leg: Leg) -> float:
        """Talk minutes of a caller leg times the amount."""
        return 0.0 if leg.is_agent or not leg.talk_time else leg.talk_time / SECONDS_PER_MINUTE * self.amount

    def total(self, sums: CostSums) -> float:
        """All caller talk minutes times the amount."""
        return sums.caller_talk_seconds / SECONDS_PER_MINUTE * self.amount


class HandledCall(HandlingModel):
    """Per answered caller leg."""

    name = "handled_call"
    description = "amount for each answered caller leg"

    def leg(self, leg: Leg) -> float:
        """The amount if the caller leg was answered."""
        return self.amount if leg.answered else 0.0

    def total(self, sums: CostSums) -> float:
        """Answered caller legs times the amount."""
        return sums.answered * self.amount


class AgentHour(HandlingModel):
    """Per hour agents of the desk spend on the agent line (their legs' duration); caller legs cost 0."""

    name = "agent_hour"
    description = "amount x duration / 3600 on each agent leg (role 'agent') of the desk; caller legs 0"

    def leg(self, leg: Leg) -> float:
        """Staffed hours of an agent leg times the amount."""
        return leg.duration / SECONDS_PER_HOUR * self.amount if leg.is_agent and leg.duration else 0.0

    def total(self, sums: CostSums) -> float:
        """All agent-line hours times the amount."""
        return sums.agent_seconds / SECONDS_PER_HOUR * self.amount


COST_MODELS: dict[str, type[HandlingModel]] = {
    model.name: model for model in (HandledMinute, HandledCall, AgentHour)
}


def billed_minutes(duration: int | None) -> int:
    """Started minutes of a leg (Twilio bills each started minute); 0 while the duration is unknown."""
    return -(-duration // SECONDS_PER_MINUTE) if duration else 0


def handling_model(desk: Desk) -> HandlingModel | None:
    """The desk's handling model with its amount, or None when it has no cost model."""
    if desk.cost is None:
        return None
    return COST_MODELS[desk.cost.model](desk.cost.amount)


def leg_cost(desk: Desk, leg: Leg) -> float:
    """What one leg of this desk costs: telephony per started minute plus handling."""
    model = handling_model(desk)
    handling = model.leg(leg) if model is not None else 0.0
    return billed_minutes(leg.duration) * desk.telephony_per_minute + handling


def total_cost(desk: Desk, sums: CostSums) -> float:
    """What all of a desk's legs cost, from their sums (equal to the sum of leg_cost over the legs)."""
    model = handling_model(desk)
    handling = model.total(sums) if model is not None else 0.0
    return sums.billed_minutes * desk.telephony_per_minute + handling


def currency(desk: Desk) -> str | None:
    """The currency of the desk's prices (telephony is priced in it too); None without a cost model."""
    return desk.cost.currency if desk.cost is not None else None


def describe(desk: Desk) -> str:
    """The desk's prices in words, for the report's definitions."""
    model = handling_model(desk)
    money = currency(desk) or "(no currency)"
    handling = (
        f"{model.name} {model.amount:g} {money} ({model.description})"
        if model is not None
        else "no cost model (telephony only)"
    )
    return f"telephony {desk.telephony_per_minute:g} {money} per started minute of every leg; {handling}"
