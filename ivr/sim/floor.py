"""The call-centre floor of a simulation: the switchboard of greenlets, desks, their queues and callers."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from greenlet import getcurrent, greenlet

from .call import CallResult, SimulatedCall
from .clock import VirtualClock, Wakeable
from .document import TwimlError
from .people import Caller, Input, ShiftAgent
from .queues import Ticket, Waiter


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
    handle_cv: float | None = None  # spread of handle times (lognormal); None: exponential

    def handle_time(self, rng: random.Random, factor: float = 1.0) -> float:
        """A random handle time with mean `factor` x handle_seconds."""
        mean = self.handle_seconds * factor
        if self.handle_cv is None:
            return rng.expovariate(1 / mean)
        sigma2 = math.log1p(self.handle_cv**2)  # lognormal with this mean and coefficient of variation
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def on_shift(self, moment: datetime) -> int:
        """Agents on shift at `moment`."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        return self.agents_by_hour["weekend" if local.weekday() >= 5 else "weekday"][local.hour]


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
            self.model.handle_time(self.rng, ticket.call.caller.handle_factor)
            if shift
            else agent.agents.talk_seconds
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
