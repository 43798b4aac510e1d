"""Simulated agents on shift: each one calls the agent line, signs in and takes the callers of its desk.
Shifts, legs and signing out: docs/simulator.md, "How it works"."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .call import CallResult, SimulatedCall
from .floor import DeskModel, ModelQueues, Switchboard, play_safely
from .people import ShiftAgent
from .transport import Transport

LEG = timedelta(hours=3, minutes=30)  # planned length of one agent-line call; the last caller may run on
EARLY_END = "the agent line ended the agent's call before the shift did"


@dataclass(frozen=True)
class AgentLogin:
    """How one simulated agent signs in: agent id, PIN, and the phone it calls from."""

    agent_id: str
    pin: str
    phone: str


@dataclass(frozen=True)
class Staff:
    """The agents of a run: the agent line's number, and per queue one login per agent slot."""

    line: str
    logins: Mapping[str, list[AgentLogin]]


def slots(model: DeskModel) -> int:
    """How many agents the desk has at most on shift at once."""
    return max((max(hours) for hours in model.agents_by_hour.values() if hours), default=0)


def new_logins(desks: Mapping[str, DeskModel]) -> dict[str, list[AgentLogin]]:
    """Logins for every agent slot of every desk: ids 99QQSS (queue, slot), fresh random PINs."""
    return {
        queue: [
            AgentLogin(
                agent_id=f"99{index + 1:02d}{slot + 1:02d}",
                pin=f"{secrets.randbelow(10**8):08d}",
                phone=f"+1737555{index + 1:02d}{slot + 1:02d}",
            )
            for slot in range(slots(model))
        ]
        for index, (queue, model) in enumerate(desks.items())
    }


def shift_blocks(
    model: DeskModel, slot: int, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The unbroken stretches between `start` and `end` in which agent `slot` of the desk is on shift."""
    zone = ZoneInfo(model.timezone)
    hour = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    begun: datetime | None = None
    while hour < end:
        on = slot < model.on_shift(hour)
        if on and begun is None:
            begun = max(hour, start)
        elif not on and begun is not None:
            yield begun, hour
            begun = None
        hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)  # real hours, across DST too
    if begun is not None:
        yield begun, end


@dataclass
class Shifts:
    """The agents of a traffic run, working their shifts through the agent line on the switchboard."""

    staff: Staff
    transport: Transport
    base_url: str
    board: Switchboard
    queues: ModelQueues
    legs: list[tuple[SimulatedCall, CallResult]] = field(default_factory=list)
    on_line: list[ShiftAgent] = field(default_factory=list)
    closed: bool = False

    def schedule(self, desks: Mapping[str, DeskModel], start: datetime, end: datetime) -> None:
        """Start every agent's stretches of shift between `start` and `end`."""
        for queue, model in desks.items():
            for slot, login in enumerate(self.staff.logins.get(queue, [])):
                for begin, finish in shift_blocks(model, slot, start, end):
                    self.board.spawn(begin, self._worker(login, finish))

    def _worker(self, login: AgentLogin, finish: datetime) -> Callable[[], None]:
        return lambda: self.work(login, finish)

    def work(self, login: AgentLogin, finish: datetime) -> None:
        """One stretch of shift: calls to the agent line, one after the other, until `finish`."""
        clock = self.board.clock
        while not self.closed and clock.now() < finish:
            person = ShiftAgent(login.agent_id, login.pin, min(finish, clock.now() + LEG), clock)
            call = SimulatedCall(
                self.transport, self.base_url, login.phone, self.staff.line, clock, person, queues=self.queues
            )
            self.on_line.append(person)
            try:
                result = play_safely(call, self.queues)
            finally:
                self.on_line.remove(person)
            early = clock.now() < person.until
            if early and result.ok:
                result.status_problems.append(EARLY_END)
            self.legs.append((call, result))
            if early or not result.ok:
                return

    def close(self) -> None:
        """The run's callers are done: agents sign out now (or after the call in hand)."""
        self.closed = True
        now = self.board.clock.now()
        for person in self.on_line:
            person.until = min(person.until, now)
        self.queues.release()
