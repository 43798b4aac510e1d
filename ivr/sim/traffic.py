"""Traffic: many simulated calls on one virtual clock, with agents on shift answering shared queues.
Each call is a greenlet woken in time order by the switchboard (docs/simulator.md, "How it works")."""

from __future__ import annotations

import gc
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .call import CallResult, SimulatedCall
from .clock import VirtualClock
from .floor import DeskPool, ModelQueues, ProfileCaller, Switchboard, play_safely
from .profile import arrival_times
from .shards import Shard
from .staff import Shifts, Staff


@dataclass
class PlacedCall:
    """A finished call without its transport and greenlet: what a shard sends back from its process."""

    sid: str
    number: str
    queue_outcomes: list[tuple[str, str, int]]

    @classmethod
    def of(cls, call: SimulatedCall) -> PlacedCall:
        """The picklable part of a simulated call."""
        return cls(call.sid, call.base["From"], call.queue_outcomes)


@dataclass
class Load:
    """What one process of a run did: requests, wall and CPU seconds inside the app and in all, latencies."""

    requests: int = 0
    app_seconds: float = 0.0
    app_cpu_seconds: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)


@dataclass
class TrafficResult:
    """Every call of a run, with the queue outcomes the simulator saw, and the agents' calls.

    In process the calls are SimulatedCall objects; the calls of shards run in other processes come back
    as PlacedCall. `load` has one entry per shard run in another process.
    """

    calls: list[tuple[Any, CallResult]]
    agent_legs: list[tuple[Any, CallResult]] = field(default_factory=list)
    load: list[Load] = field(default_factory=list)

    def light(self) -> TrafficResult:
        """The same result with PlacedCall for each call, to send to another process."""
        return TrafficResult(
            [(PlacedCall.of(call), result) for call, result in self.calls],
            [(PlacedCall.of(call), result) for call, result in self.agent_legs],
            self.load,
        )

    @classmethod
    def joined(cls, parts: list[TrafficResult]) -> TrafficResult:
        """The results of a run's shards, in shard order."""
        return cls(
            [pair for part in parts for pair in part.calls],
            [pair for part in parts for pair in part.agent_legs],
            [load for part in parts for load in part.load],
        )

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
    shard: Shard | None = None,
) -> TrafficResult:
    """Simulate `calls` calls of a profile over `days` days from the clock's time.

    The callers' queues are modelled; the `staff` answer them through the agent line (ivr.sim.staff).
    With `shard`, only that shard of the run (ivr.sim.shards): its calls, its own random stream, and its
    agents' shifts from its start (the clock's time) until its end.
    """
    rng = random.Random(seed if shard is None else shard.seed)
    board = Switchboard(clock)
    start = clock.now()
    pools = {queue: DeskPool(model, board, rng) for queue, model in profile.desks.items()}
    queues = ModelQueues(pools)
    arrivals = arrival_times(profile, calls, start, days, rng) if shard is None else list(shard.arrivals)
    horizon = (arrivals[-1] if arrivals else start) + timedelta(hours=5)  # the last call's wait and talk
    if shard is not None and shard.end is not None:
        horizon = min(horizon, shard.end)
    shifts = Shifts(staff, transport, base_url, board, queues)
    shifts.schedule(profile.desks, start, horizon)
    fresh = iter(rng.sample(range(2_000_000, 9_999_999), profile.population))
    recent: dict[str, tuple[datetime, str]] = {}  # number -> (last answered, queue), for repeat calls
    answered: list[tuple[datetime, str]] = []  # a heap of (when answered, number): what leaves `recent` next
    order: list[str] = []  # recent's numbers in the order first answered (recent's own): what is drawn from
    done: list[tuple[SimulatedCall, CallResult]] = []
    weights = [script.weight for script in profile.scripts]

    def caller_number() -> str:
        """A caller answered in the last 7 days calling again (at their desk's repeat rate), or a new one."""
        week_ago = clock.now() - timedelta(days=7)
        while answered and answered[0][0] < week_ago:  # answered over a week ago: never a candidate again
            when, number = heapq.heappop(answered)
            if recent.get(number, (None,))[0] == when:  # not answered again since
                del recent[number]
                order.remove(number)  # near the front: the first answered leave first, mostly
        if order:
            number = rng.choice(order)
            if rng.random() < profile.desks[recent[number][1]].repeat_rate:
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
            if number not in recent:
                order.append(number)
            recent[number] = (clock.now(), caller.served_by)
            heapq.heappush(answered, (clock.now(), number))
        if progress is not None:
            progress(1)
        if len(done) == len(arrivals):
            shifts.close()  # the last caller is done: the agents sign out

    for when in arrivals:
        board.spawn(when, one_call)
    if not arrivals:
        shifts.close()
    # the collector's full passes skip what the run began with (the app, the imports: most of the objects);
    # unfrozen after, unless someone else had frozen objects before (a server's preload may)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        board.run()
    finally:
        clock.scheduler = None
        if freeze:
            gc.unfreeze()
    return TrafficResult(done, shifts.legs)
