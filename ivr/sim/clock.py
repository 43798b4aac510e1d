"""A virtual clock: waits, prompts and talk take no real time; durations travel in Twilio's parameters.
Under a switchboard (ivr.sim.traffic) many calls share it (docs/simulator.md, "How it works")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Wakeable(Protocol):
    """Something that may end a wait early (a queued caller's ticket, once an agent takes it)."""

    answered_at: datetime | None


class Scheduler(Protocol):
    """What runs many calls on one clock."""

    def sleep(self, seconds: float, until: Wakeable | None) -> None:
        """Let the calling call wait; other calls run meanwhile."""


class VirtualClock:
    """Simulated time, moved forward only by the simulation."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)
        self.scheduler: Scheduler | None = None

    def now(self) -> datetime:
        """The simulated time now (aware, UTC)."""
        return self.moment

    def advance(self, seconds: float, until: Wakeable | None = None) -> None:
        """Let `seconds` pass, or less if `until` is answered before then."""
        seconds = max(0.0, seconds)
        if self.scheduler is not None:
            self.scheduler.sleep(seconds, until)
            return
        target = self.moment + timedelta(seconds=seconds)
        if until is not None and until.answered_at is not None and until.answered_at < target:
            target = max(self.moment, until.answered_at)
        self.moment = target
