"""A virtual clock: waits, prompts and talk take no real time; durations travel in Twilio's parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class VirtualClock:
    """Simulated time, moved forward only by the simulation."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        """The simulated time now (aware, UTC)."""
        return self.moment

    def advance(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass."""
        self.moment += timedelta(seconds=max(0.0, seconds))
