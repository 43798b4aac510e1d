"""Traffic: many simulated calls on one virtual clock, with agents on shift answering shared queues.
Each call is a greenlet woken in time order by the switchboard (docs/simulator.md, "How it works")."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from greenlet import getcurrent, greenlet

from .call import CallResult, SimulatedCall
from .clock import VirtualClock, Wakeable
from .document import TwimlError
from .people import Caller, Input, ShiftAgent
from .queues import Ticket, Waiter

if TYPE_CHECKING:
    from .staff import Staff


class Switchboard:
    """Runs actions and calls in virtual-time order; a waiting call yields to the others."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        clock.scheduler = self
        self.queue: list[tuple[datetime, int, Any]] = []
        self.order = itertools.count()
        self.version: dict[Any, int] = {}
        self.sleepers: dict[int, Any] = {}
        self.hub: Any = None

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        """Run `action` (in the switchboard) at `when`."""
        heapq.heappush(self.queue, (when, next(self.order), action))

    def spawn(self, when: datetime, work: Callable[[], None]) -> None:
        """Start `work` as a call of its own at `when`."""
        self.at(when, lambda: greenlet(work, parent=self.hub).switch())

    def sleep(self, seconds: float, until: Wakeable | None) -> None:
        """Suspend the running call for `seconds`, or until `until` is answered."""
        if until is not None and until.answered_at is not None and until.answered_at <= self.clock.moment:
            return  # already answered: nothing to wait for
        current = getcurrent()
        self._resume_at(current, self.clock.moment + timedelta(seconds=seconds))
        if until is not None:
            self.sleepers[id(until)] = current
        self.hub.switch()
        if until is not None:
            self.sleepers.pop(id(until), None)

    def wake(self, ticket: Wakeable, when: datetime) -> None:
        """End the wait of the call holding `ticket` at `when`."""
        sleeper = self.sleepers.pop(id(ticket), None)
        if sleeper is not None:
            self._resume_at(sleeper, when)

    def _resume_at(self, call: Any, when: datetime) -> None:
        version = self.version.get(call, 0) + 1
        self.version[call] = version
        heapq.heappush(self.queue, (when, next(self.order), (call, version)))

    def run(self) -> None:
        """Run until nothing is left to happen."""
        self.hub = getcurrent()
        while self.queue:
            when, _order, item = heapq.heappop(self.queue)
            self.clock.moment = max(self.clock.moment, when)
            if callable(item):
                item()
            elif self.version.get(item[0]) == item[1] and not item[0].dead:
                item[0].switch()


@dataclass
class DeskModel:
    """A queue's agents: how many are on shift each local hour, handle time, survey answers, repeats."""

    queue: str
    agents_by_hour: dict[str, list[int]]  # "weekday"/"weekend" -> 24 counts
    handle_seconds: float
    survey: dict[str, float]  # "1".."5" and "none" -> weight
    repeat_rate: float
    timezone: str

    def on_shift(self, moment: datetime) -> int:
        """Agents on shift at `moment`."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        kind = "weekend" if local.weekday() >= 5 else "weekday"
        return self.agents_by_hour[kind][local.hour]


@dataclass
class DeskPool:
    """One queue: callers wait in order; an agent dialling the queue takes the longest-waiting caller.

    Agents reach callers only through the agent line (ivr.sim.staff): an agent's <Dial><Queue> takes the
    first caller waiting, or waits in the Dial until one joins.
    """

    model: DeskModel
    board: Switchboard
    rng: random.Random
    waiting: deque[Ticket] = field(default_factory=deque)
    idle: deque[Waiter] = field(default_factory=deque)

    def join(self, ticket: Ticket) -> None:
        """A caller enters the queue; an agent waiting in a Dial takes them at once."""
        self.waiting.append(ticket)
        if self.idle:
            waiter = self.idle.popleft()
            waiter.ticket = self.take(waiter.call)
            waiter.answered_at = self.board.clock.now()
            self.board.wake(waiter, waiter.answered_at)

    def leave(self, ticket: Ticket) -> None:
        """A caller leaves unanswered."""
        if ticket in self.waiting:
            self.waiting.remove(ticket)

    def take(self, agent: SimulatedCall) -> Ticket | None:
        """An agent dialling takes the longest-waiting caller; a shift agent talks the desk's handle time."""
        if not self.waiting:
            return None
        ticket = self.waiting.popleft()
        now = self.board.clock.now()
        person = agent.caller
        shift = isinstance(person, ShiftAgent)
        ticket.answered_at = now
        ticket.agent = person.agent_id if isinstance(person, ShiftAgent) else agent.base["From"]
        ticket.talk_seconds = (
            self.rng.expovariate(1 / self.model.handle_seconds) if shift else agent.agents.talk_seconds
        )
        self.board.wake(ticket, now)
        return ticket

    def wait(self, agent: SimulatedCall) -> Waiter:
        """An agent's Dial on the empty queue waits for the next caller."""
        waiter = Waiter(agent)
        self.idle.append(waiter)
        return waiter

    def stop_waiting(self, waiter: Waiter) -> None:
        """The agent no longer waits."""
        if waiter in self.idle:
            self.idle.remove(waiter)

    def release(self) -> None:
        """Wake every waiting agent without a caller (the run is over: they hang up)."""
        now = self.board.clock.now()
        while self.idle:
            waiter = self.idle.popleft()
            waiter.answered_at = now
            self.board.wake(waiter, now)


class ModelQueues:
    """The queues of a traffic run, by name (a queue with no model is never answered)."""

    def __init__(self, pools: dict[str, DeskPool]) -> None:
        self.pools = pools

    def join(self, queue: str, call: SimulatedCall) -> Ticket:
        """Put a caller in the named queue."""
        ticket = Ticket(queue, call, call.clock.now())
        if queue in self.pools:
            self.pools[queue].join(ticket)
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """Take a caller out unanswered."""
        if ticket.queue in self.pools:
            self.pools[ticket.queue].leave(ticket)

    def take(self, queue: str, agent: SimulatedCall) -> Ticket | None:
        """An agent dialling the queue takes its longest-waiting caller."""
        return self.pools[queue].take(agent) if queue in self.pools else None

    def wait(self, queue: str, agent: SimulatedCall) -> Waiter:
        """An agent dialling an empty queue waits for its next caller (forever on a queue with no model)."""
        return self.pools[queue].wait(agent) if queue in self.pools else Waiter(agent)

    def stop_waiting(self, waiter: Waiter) -> None:
        """The agent's wait is over."""
        for pool in self.pools.values():
            pool.stop_waiting(waiter)

    def release(self) -> None:
        """Send every waiting agent away: the run is over."""
        for pool in self.pools.values():
            pool.release()

    def position(self, ticket: Ticket) -> dict[str, str]:
        """The caller's place and the queue's size."""
        waiting = self.pools[ticket.queue].waiting if ticket.queue in self.pools else deque([ticket])
        place = waiting.index(ticket) + 1 if ticket in waiting else 1
        return {"QueuePosition": str(place), "CurrentQueueSize": str(max(len(waiting), 1))}


class ProfileCaller(Caller):
    """A caller from a profile: a weighted script, then the survey answer of the desk that served them."""

    def __init__(
        self,
        script: list[Input],
        patience: float,
        message_seconds: int,
        desks: dict[str, DeskModel],
        rng: random.Random,
    ) -> None:
        super().__init__(deque(script), patience, message_seconds)
        self.desks = desks
        self.rng = rng
        self.served_by: str | None = None

    def bridged(self, queue: str) -> None:
        """Answer the coming survey as callers of this desk do."""
        self.served_by = queue
        model = self.desks.get(queue)
        if model is None:
            return
        answer = self.rng.choices(list(model.survey), weights=list(model.survey.values()))[0]
        self.inputs.appendleft(Input() if answer == "none" else Input(digits=answer))


def play_safely(call: SimulatedCall, queues: ModelQueues) -> CallResult:
    """Run a call to its end; a transport failure ends this call (as an error), not the whole run."""
    try:
        return call.run()
    except Exception as exc:
        if call.waiting_on is not None:
            queues.leave(call.waiting_on)
        call.note("simulator", f"call failed: {type(exc).__name__}: {exc}")
        return CallResult(call.sid, call.events, int(call.elapsed()), TwimlError(11200, str(exc)))


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
    from .profile import arrival_times
    from .staff import Shifts

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
    weights = [weight for weight, _script in profile.scripts]

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
        script = rng.choices(profile.scripts, weights=weights)[0][1]
        patience = rng.expovariate(1 / profile.patience_seconds)
        caller = ProfileCaller(list(script), patience, profile.message_seconds, profile.desks, rng)
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
