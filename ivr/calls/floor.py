"""The floor right now, per desk, from the call log: callers waiting, the longest wait, agents signed in,
on a call and free. Stateless reads, so every web process shows the same (docs/desks.md, "Live wallboard")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .queues import CALLS, MAX_CALL, SIGNED_IN_NOW, WAITING_NOW

TALKING = "agent_talking"  # the agent line's node while an agent is bridged to a caller

# started in the last 4 hours: no call lasts longer, and the index on started_at keeps the read small
_recent = (CALLS.c.desk.is_not(None), CALLS.c.started_at >= bindparam("oldest"))
# The callers and agents of ivr.calls.queues (what overflow reads), for every desk at once.
WAITING = (
    select(CALLS.c.desk, func.count(), func.min(CALLS.c.queued_at))
    .where(*_recent, *WAITING_NOW)
    .group_by(CALLS.c.desk)
)
AGENTS = (
    select(CALLS.c.desk, func.count(), func.count().filter(CALLS.c.node == TALKING))
    .where(*_recent, *SIGNED_IN_NOW)
    .group_by(CALLS.c.desk)
)


@dataclass(frozen=True)
class DeskNow:
    """One desk at one moment: who waits and for how long, and its agents on the agent line."""

    waiting: int = 0
    longest_wait: int | None = None  # whole seconds the longest-waiting caller has waited (None: nobody)
    agents: int = 0  # signed in on the agent line (ready for a caller or on a call)
    on_call: int = 0

    @property
    def free(self) -> int:
        """Agents signed in and not on a call: the next caller is theirs."""
        return self.agents - self.on_call

    def as_dict(self) -> dict[str, Any]:
        """The figures by name, as the wallboard and the API show them."""
        return {
            "waiting": self.waiting,
            "longest_wait": self.longest_wait,
            "agents_signed_in": self.agents,
            "agents_on_call": self.on_call,
            "agents_free": self.free,
        }


def _seconds_since(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds()))


def at_desks(session: Session, now: datetime) -> dict[str, DeskNow]:
    """Each desk with someone waiting or signed in at `now` (two grouped reads; any other: DeskNow())."""
    connection = session.connection()
    params = {"oldest": now - MAX_CALL}
    waiting = {desk: (n, oldest) for desk, n, oldest in connection.execute(WAITING, params)}
    agents = {desk: (n, talking) for desk, n, talking in connection.execute(AGENTS, params)}
    found: dict[str, DeskNow] = {}
    for desk in waiting.keys() | agents.keys():
        n_waiting, oldest = waiting.get(desk, (0, None))
        n_agents, talking = agents.get(desk, (0, 0))
        found[desk] = DeskNow(int(n_waiting), _seconds_since(oldest, now), int(n_agents), int(talking))
    return found
