"""Live queue figures from the call log, as the overflow and failover rules read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from ivr.calls.queues import read_stats
from ivr.models import Call

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
_sids = count(1)


def leg(session, desk: str, *, role: str = "caller", status: str = "in-progress", **fields) -> None:
    session.add(
        Call(call_sid=f"CA{next(_sids):032d}", desk=desk, role=role, status=status,
             status_rank=4 if status == "completed" else 3, started_at=NOW - timedelta(minutes=30), **fields)
    )  # fmt: skip


def test_waiting_agents_and_handle_time(session):
    leg(session, "local", queued_at=NOW - timedelta(seconds=60))  # waiting
    leg(session, "local", queued_at=NOW - timedelta(seconds=30))  # waiting
    leg(
        session, "local", queued_at=NOW - timedelta(seconds=90), peer_call_sid="CA" + "a" * 32
    )  # with an agent
    leg(session, "local", queued_at=NOW - timedelta(seconds=99), queue_result="leave")  # gone on (voicemail)
    leg(session, "local", queued_at=NOW - timedelta(hours=5))  # its final callback was lost: not waiting
    leg(session, "local", queued_at=NOW - timedelta(seconds=9), status="completed")  # hung up, no result yet
    leg(
        session, "local", queued_at=NOW - timedelta(seconds=20), role="callee"
    )  # a campaign's callee waits too
    leg(session, "bpo", queued_at=NOW - timedelta(seconds=60))  # another desk
    leg(session, "local", role="agent", node="agent_ready")  # signed in on the agent line
    leg(session, "local", role="agent", node="agent_pin")  # still keying a PIN: not an agent to count on yet
    leg(session, "local", role="agent", status="completed")  # signed out
    for talk, ago in ((200, 10), (400, 100), (9000, 200)):  # the last one is older than two hours
        leg(session, "local", status="completed", queue_result="bridged", talk_time=talk,
            queued_at=NOW - timedelta(minutes=ago))  # fmt: skip
    session.commit()
    stats = read_stats(session, "local", NOW)
    assert (stats.waiting, stats.agents, stats.handle_seconds) == (3, 1, 300.0)
    assert stats.estimated_wait == 900.0


def test_an_empty_desk(session):
    stats = read_stats(session, "local", NOW)
    assert (stats.waiting, stats.agents, stats.handle_seconds, stats.estimated_wait) == (0, 0, None, None)
