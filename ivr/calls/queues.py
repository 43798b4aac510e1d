"""Live queue figures read from the call log: callers waiting, agents signed in, recent handle time."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..db import Executor, connection_of
from ..engine.agent_line import AGENT_ROLE, SIGNED_IN
from ..engine.routing import QueueFigures, QueueStats
from ..models import STATUS_RANK, Call

CALLS = cast(Table, Call.__table__)
FINAL_RANK = STATUS_RANK["completed"]
MAX_CALL = timedelta(hours=4)  # Twilio ends every call after 4 hours: older open rows are lost callbacks
HANDLE_WINDOW = timedelta(hours=2)  # handle time is averaged over the calls answered this recently
# the figures read calls started since now - 2 * MAX_CALL: enough for the handle window while it is shorter
assert HANDLE_WINDOW <= MAX_CALL

# One definition of who waits and who answers, read per desk here (overflow) and for every desk at once by
# the wallboard (ivr.calls.floor); `oldest` is now - MAX_CALL.
WAITING_NOW = (  # callers handed to a desk, not yet taken by an agent nor gone
    CALLS.c.status_rank < FINAL_RANK,
    CALLS.c.role != AGENT_ROLE,
    CALLS.c.queued_at >= bindparam("oldest"),
    CALLS.c.queue_result.is_(None),
    CALLS.c.peer_call_sid.is_(None),  # the agent line links a caller to an agent when it takes them
)
SIGNED_IN_NOW = (  # agents signed in on the agent line (ready or talking), not those still keying a PIN
    CALLS.c.status_rank < FINAL_RANK,
    CALLS.c.role == AGENT_ROLE,
    CALLS.c.started_at >= bindparam("oldest"),
    CALLS.c.node.in_(sorted(SIGNED_IN)),
)
HANDLED = (  # callers taken by an agent lately, for the handle time
    CALLS.c.role != AGENT_ROLE,
    CALLS.c.talk_time.is_not(None),
    CALLS.c.queued_at >= bindparam("recent"),
)
# A desk's three figures in one read. Every row counted started after `since` (now - 2 * MAX_CALL: queued
# at most MAX_CALL after it started, at most MAX_CALL ago), so the (desk, started_at) index bounds the read.
STATS = select(
    func.count().filter(and_(*WAITING_NOW)),
    func.count().filter(and_(*SIGNED_IN_NOW)),
    func.avg(CALLS.c.talk_time).filter(and_(*HANDLED)),
).where(
    CALLS.c.desk == bindparam("desk"),
    CALLS.c.started_at >= bindparam("since"),
    # calls logged at a later time than `now` are not there yet (a simulation run in shards side by side)
    CALLS.c.started_at <= bindparam("now"),
)


def read_stats(bind: Session | Connection | Executor, desk: str, now: datetime) -> QueueStats:
    """The desk's queue figures at `now` (one statement)."""
    connection = connection_of(bind)
    oldest = now - MAX_CALL
    params = {
        "desk": desk,
        "oldest": oldest,
        "recent": now - HANDLE_WINDOW,
        "since": oldest - MAX_CALL,
        "now": now,
    }
    waiting, agents, handle = connection.execute(STATS, params).one()
    return QueueStats(waiting=waiting, agents=agents, handle_seconds=float(handle) if handle else None)


def figures(bind: Session | Connection | Executor, now: datetime) -> QueueFigures:
    """Queue figures for the engine, read once per desk on first use."""

    @cache
    def stats(desk: str) -> QueueStats:
        return read_stats(bind, desk, now)

    return stats
