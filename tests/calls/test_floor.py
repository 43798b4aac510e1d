"""The floor right now from the call log: callers waiting and agents, the same callers as overflow reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from ivr.calls.floor import DeskNow, at_desks
from ivr.calls.queues import read_stats
from ivr.models import Call

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
_sids = count(1)


def leg(session, desk: str | None, *, role: str = "caller", status: str = "in-progress", **fields) -> None:
    fields.setdefault("started_at", NOW - timedelta(minutes=30))
    session.add(
        Call(call_sid=f"CA{next(_sids):032d}", desk=desk, role=role, status=status,
             status_rank=4 if status == "completed" else 3, **fields)
    )  # fmt: skip


def test_waiting_callers_their_longest_wait_and_agents_on_and_off_calls(session):
    leg(session, "local", queued_at=NOW - timedelta(seconds=95, microseconds=400))  # waiting longest
    leg(session, "local", queued_at=NOW - timedelta(seconds=30))
    leg(session, "local", queued_at=NOW - timedelta(seconds=120), peer_call_sid="CA" + "a" * 32)  # taken
    leg(session, "local", queued_at=NOW - timedelta(seconds=200), queue_result="hangup")  # gave up
    leg(session, "local", queued_at=NOW - timedelta(hours=5))  # its final callback was lost: not waiting
    leg(session, "local", queued_at=NOW - timedelta(seconds=300), status="completed")
    leg(session, "bpo", queued_at=NOW - timedelta(seconds=8))
    leg(session, "local", role="agent", node="agent_talking")
    leg(session, "local", role="agent", node="agent_ready")
    leg(session, "local", role="agent", node="agent_ready")
    leg(session, "local", role="agent", node="agent_signed_out")  # said goodbye, not yet hung up
    leg(session, "local", role="agent", node="agent_ready", status="completed")  # hung up
    leg(session, None, role="agent", node="agent_pin")  # still signing in: no desk yet
    leg(session, "bpo", role="agent", node="agent_ready", started_at=NOW - timedelta(hours=5))  # lost
    session.commit()
    found = at_desks(session, NOW)
    assert found == {"local": DeskNow(2, 95, 3, 1), "bpo": DeskNow(1, 8, 0, 0)}
    assert found["local"].free == 2
    assert found["local"].as_dict() == {
        "waiting": 2, "longest_wait": 95, "agents_signed_in": 3, "agents_on_call": 1, "agents_free": 2,
    }  # fmt: skip
    # the same callers overflow counts for each desk (ivr.calls.queues)
    assert [read_stats(session, desk, NOW).waiting for desk in ("local", "bpo")] == [2, 1]


def test_a_quiet_floor(session):
    assert at_desks(session, NOW) == {}
    assert DeskNow().as_dict()["longest_wait"] is None
