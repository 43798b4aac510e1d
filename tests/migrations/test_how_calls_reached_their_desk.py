"""Migration 0006 fills route_strategy, assignment and segment of the calls logged before it, from events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import column, insert, select, table
from sqlalchemy.engine import Connection

from ivr.calls.log import CALLS, EVENTS
from ivr.migrations.runner import upgrade

from .revisions import at_revision

AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
PATH = "language:1 > main_menu:1"
# Events as the engine logged them before revision 0006 (ivr/engine/nodes.py, ivr/engine/routing.py then):
# route events with desk, strategy and reason only.
STICKY_LOCAL = ("route", {"desk": "local", "strategy": "sticky", "reason": "sticky split (local 1, bpo 1): "
                "caller hash 0.402 -> local"})  # fmt: skip
QUEUE_LOCAL = ("queue_entered", {"desk": "local", "queue": "local-desk"})
QUEUE_BPO = ("queue_entered", {"desk": "bpo", "queue": "bpo-desk"})
OVERFLOW = ("overflow", {"desk": "local", "to": "bpo", "reason": "waited 240 s, max_wait 240 s"})


def route(strategy: str, desk: str, reason: str) -> tuple[str, dict[str, Any]]:
    return "route", {"desk": desk, "strategy": strategy, "reason": reason}


# call sid: (role, desk, path, events in order, expected (route_strategy, assignment, segment))
CASES: dict[str, tuple[str, str | None, str | None, list[tuple[str, dict[str, Any]]], tuple[Any, ...]]] = {
    "sticky": ("caller", "local", PATH, [STICKY_LOCAL, QUEUE_LOCAL], ("sticky", "split", PATH)),
    "sticky, then a fixed route": (
        "caller",
        "bpo",
        "language:2 > main_menu:1",
        [STICKY_LOCAL, route("fixed", "bpo", "fixed desk"), QUEUE_BPO],
        ("fixed", "directed", "language:2 > main_menu:1"),
    ),
    "weighted, one desk weighted 0": (
        "caller",
        "bpo",
        PATH,
        [route("weighted", "bpo", "weighted split (local 0, bpo 1): draw 0.412 -> bpo"), QUEUE_BPO],
        ("weighted", "directed", PATH),
    ),
    "weighted by fractions": (
        "caller",
        "bpo",
        PATH,
        [route("weighted", "bpo", "weighted split (local 0.5, bpo 2.5): draw 0.9 -> bpo"), QUEUE_BPO],
        ("weighted", "split", PATH),
    ),
    "a split without a caller number": (
        "caller",
        "bpo",
        None,
        [route("sticky", "bpo", "sticky split (local 1, bpo 1): no caller number, drew 0.8 -> bpo")],
        ("sticky", "split", "(none)"),
    ),
    "a reason that shows no weights": (
        "caller",
        "bpo",
        PATH,
        [route("weighted", "bpo", "weighted"), QUEUE_BPO],
        ("weighted", "directed", PATH),
    ),
    "overflowed after waiting": (
        "caller",
        "bpo",
        PATH,
        [STICKY_LOCAL, QUEUE_LOCAL, ("queue_left", {"result": "leave"}), OVERFLOW, QUEUE_BPO],
        ("sticky", "split", PATH),
    ),
    "overflowed on arrival": (
        "caller",
        "bpo",
        PATH,
        [STICKY_LOCAL, OVERFLOW, QUEUE_BPO],
        ("sticky", "split", PATH),
    ),
    "back in the queue": (
        "caller",
        "local",
        PATH,
        [STICKY_LOCAL, QUEUE_LOCAL, ("queue_left", {"result": "leave"}), QUEUE_LOCAL],
        ("sticky", "split", PATH),
    ),
    "a schedule": (
        "caller",
        "local",
        None,
        [route("schedule", "local", "schedule: local is open (hours 'support')"), QUEUE_LOCAL],
        ("schedule", "directed", "(none)"),
    ),
    "routed, then an enqueue node with its own desk": (
        "caller",
        "phone",
        PATH,
        [route("fixed", "local", "fixed desk"), ("dial_started", {"desk": "phone", "to": ["+15125550199"]})],
        ("fallback", "directed", PATH),
    ),
    "no route": ("caller", "local", None, [QUEUE_LOCAL], ("fallback", "directed", "(none)")),
    "a campaign's callee": ("callee", "local", None, [QUEUE_LOCAL], ("fallback", "directed", "(none)")),
    "an agent leg": ("agent", "local", None, [], (None, None, None)),
    "hung up in the menu": ("caller", None, "language:1", [], (None, None, None)),
    "a dial node, no desk": (
        "caller",
        None,
        None,
        [("dial_started", {"to": ["+15125550123"]})],
        (None, None, None),
    ),
}


# calls as revision 0005 has them (later columns left out: their defaults would be inserted too)
OLD_CALLS = table("calls", *(column(c.name, c.type) for c in CALLS.c if c.name != "updated_at"))


def add_old_call(conn: Connection, sid: str, role: str, desk: str | None, path: str | None) -> int:
    """A call row with the columns revision 0005 has."""
    values = {
        "call_sid": sid, "account_sid": "AC1", "direction": "inbound", "role": role,
        "from_number": "+15125550111", "to_number": "+15125550100", "status": "completed", "status_rank": 4,
        "started_at": AT, "variables": {}, "tries": {}, "errors": 0, "desk": desk, "path": path,
    }  # fmt: skip
    return int(conn.execute(insert(OLD_CALLS).values(values).returning(OLD_CALLS.c.id)).scalar_one())


@pytest.fixture
def at_0005(app: Flask, database_url: str) -> Iterator[str]:
    """The (emptied) test database taken down to revision 0005, and back up to head afterwards."""
    with at_revision(app, database_url, "0005") as url:
        yield url


def test_the_backfill_reads_how_each_call_reached_its_desk(app: Flask, at_0005: str) -> None:
    engine = app.extensions["ivr.db"].engine
    with engine.begin() as conn:
        for sid, (role, desk, path, events, _expected) in CASES.items():
            call_id = add_old_call(conn, sid, role, desk, path)
            rows = [
                {"call_id": call_id, "at": AT, "kind": kind, "node": "n", "data": data}
                for kind, data in events
            ]
            if rows:
                conn.execute(insert(EVENTS), rows)
    engine.dispose()
    upgrade(at_0005)
    with engine.connect() as conn:
        found = conn.execute(
            select(CALLS.c.call_sid, CALLS.c.route_strategy, CALLS.c.assignment, CALLS.c.segment)
        ).all()
    assert {sid: tuple(rest) for sid, *rest in found} == {sid: case[-1] for sid, case in CASES.items()}
