"""The worker's clock: the wall clock in production, a virtual one in tests (waits take no real time)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Now, and a wait that ends early when the worker is told to stop."""

    def now(self) -> datetime:
        """The time now (aware, UTC)."""
        ...

    def wait(self, seconds: float) -> bool:
        """Let `seconds` pass; True when the worker was told to stop meanwhile."""
        ...


class WallClock:
    """Real time; waits end at once when `stop` is set (SIGTERM)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def now(self) -> datetime:
        """The wall clock (UTC)."""
        return datetime.now(UTC)

    def wait(self, seconds: float) -> bool:
        """Sleep until `seconds` have passed or stop is set."""
        return self.stop.wait(max(0.0, seconds))


class Timeline(Protocol):
    """A virtual time line, such as the simulator's VirtualClock."""

    def now(self) -> datetime:
        """The virtual time."""
        ...

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass."""
        ...


class ManualClock:
    """Virtual time for tests and simulations: a wait moves the time line forward at once.

    On the simulator's VirtualClock, the worker, the app (IVR_CLOCK) and the simulated calls share one
    time line, so spacing between attempts and calling windows play out without real waiting.
    """

    def __init__(self, timeline: Timeline, stop: threading.Event | None = None) -> None:
        self.timeline = timeline
        self.stop = stop or threading.Event()

    def now(self) -> datetime:
        """The virtual time."""
        return self.timeline.now()

    def wait(self, seconds: float) -> bool:
        """Move the virtual time forward by `seconds`."""
        self.timeline.advance(max(0.0, seconds))
        return self.stop.is_set()


def wait_until(clock: Clock, moment: datetime) -> bool:
    """Wait until the clock reads `moment` or later; True when told to stop meanwhile."""
    while (left := (moment - clock.now()).total_seconds()) > 0:
        if clock.wait(left):
            return True
    return False
