"""Traffic: many simulated calls on one virtual clock, with agents on shift answering shared queues.
Each call is a greenlet woken in time order by the switchboard (docs/simulator.md, "How it works")."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .call import CallResult, SimulatedCall
from .clock import VirtualClock
from .floor import DeskPool, ModelQueues, ProfileCaller, Switchboard, play_safely
from .profile import arrival_times
from .staff import Shifts, Staff


@dataclass
class TrafficResult:
    """Every call of a run, with the queue outcomes the simulator saw, and the agents' calls."""

    calls: list[tuple[SimulatedCall, CallResult]]
    agent_legs: list[tuple[SimulatedCall, CallResult]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Totals (errors include agents' calls), and per queue: offered, answered, abandoned, left, wait."""
        queues: dict[str, dict[str, float]] = {}
        for call, _result in self.calls:
            for queue, outcome, waited in call.queue_outcomes:
                row = queues.setdefault(
                    queue, {"offered": 0, "bridged": 0, "hangup": 0, "leave": 0, "wait": 0}
                )
                row["offered"] += 1
                row[outcome] = row.get(outcome, 0) + 1
                if outcome == "bridged":
                    row["wait"] += waited
        for row in queues.values():
            row["mean_wait_answered"] = round(row.pop("wait") / row["bridged"], 1) if row["bridged"] else 0.0
        errors = sum(1 for _call, result in self.calls + self.agent_legs if not result.ok)
        return {
            "calls": len(self.calls),
            "agent_calls": len(self.agent_legs),
            "errors": errors,
            "queues": queues,
        }


def run_traffic(
    transport: Any,
    base_url: str,
    profile: Any,
    calls: int,
    clock: VirtualClock,
    days: int,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    staff: Staff,
) -> TrafficResult:
    """Simulate `calls` calls of a profile over `days` days from the clock's time.

    The callers' queues are modelled; the `staff` answer them through the agent line (ivr.sim.staff).
    """
    rng = random.Random(seed)
    board = Switchboard(clock)
    start = clock.now()
    pools = {queue: DeskPool(model, board, rng) for queue, model in profile.desks.items()}
    queues = ModelQueues(pools)
    arrivals = arrival_times(profile, calls, start, days, rng)
    horizon = (arrivals[-1] if arrivals else start) + timedelta(hours=5)  # the last call's wait and talk
    shifts = Shifts(staff, transport, base_url, board, queues)
    shifts.schedule(profile.desks, start, horizon)
    fresh = iter(rng.sample(range(2_000_000, 9_999_999), profile.population))
    recent: dict[str, tuple[datetime, str]] = {}  # number -> (last answered, queue), for repeat calls
    done: list[tuple[SimulatedCall, CallResult]] = []
    weights = [script.weight for script in profile.scripts]

    def caller_number() -> str:
        """A caller answered in the last 7 days calling again (at their desk's repeat rate), or a new one."""
        week_ago = clock.now() - timedelta(days=7)
        candidates = [(number, queue) for number, (when, queue) in recent.items() if when >= week_ago]
        if candidates:
            number, queue = rng.choice(candidates)
            if rng.random() < profile.desks[queue].repeat_rate:
                return number
        return f"+1512{next(fresh, rng.randrange(2_000_000, 9_999_999)):07d}"

    def one_call() -> None:
        script = rng.choices(profile.scripts, weights=weights)[0]
        patience = rng.expovariate(1 / (script.patience_seconds or profile.patience_seconds))
        caller = ProfileCaller(list(script.inputs), patience, profile.message_seconds, profile.desks, rng)
        caller.handle_factor = script.handle_factor
        number = caller_number()
        call = SimulatedCall(transport, base_url, number, profile.to, clock, caller, queues=queues)
        result = play_safely(call, queues)
        done.append((call, result))
        if caller.served_by is not None:
            recent[number] = (clock.now(), caller.served_by)
        if progress is not None:
            progress(1)
        if len(done) == len(arrivals):
            shifts.close()  # the last caller is done: the agents sign out

    for when in arrivals:
        board.spawn(when, one_call)
    if not arrivals:
        shifts.close()
    try:
        board.run()
    finally:
        clock.scheduler = None
    return TrafficResult(done, shifts.legs)
