"""Whole simulated calls through a flow with a sticky split, a fixed route and a fallback: each call's row
says how it reached its desk (route_strategy, assignment, segment), whatever the desks' rules did next."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr import create_app
from ivr.migrations.runner import downgrade, upgrade
from ivr.models import Call
from ivr.sim import Agents, Caller, Input, SimulatedCall, VirtualClock, WsgiTransport

from ..conftest import AUTH_TOKEN, OPEN, SAMPLE_FLOWS, _truncate
from ..helpers import call_row

MAIN_LINE = "+15125550100"
SLOW = Agents(answer_after=300)  # the local desk's overflow rule moves callers to bpo after 240 s
FLOW = {
    "name": "main",
    "numbers": [MAIN_LINE],
    "default": True,
    "languages": {"en": {"code": "en-US", "voice": "Polly.Joanna"}},
    "start": "main_menu",
    "nodes": {
        "main_menu": {
            "type": "menu",
            "prompt": "For billing, press 1. For support, press 2. For the answering service, press 3.",
            "options": {"1": "to_billing", "2": "to_support", "3": "answering"},
            "timeout": "bye",
            "invalid": "bye",
        },
        "to_billing": {
            "type": "route",
            "strategy": "sticky",
            "weights": {"local": 1, "bpo": 1},
            "segment": "billing",
            "next": "queue",
        },
        "to_support": {"type": "route", "desk": "local", "next": "queue"},
        "queue": {"type": "enqueue", "next": "bye", "failed": "bye"},
        "answering": {"type": "enqueue", "desk": "bpo", "next": "bye", "failed": "bye"},  # names its own desk
        "bye": {"type": "hangup", "prompt": "Goodbye."},
    },
}


@pytest.fixture
def line(config: dict[str, Any], database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app answering FLOW, with the sample site's desks (local overflows to bpo after 240 s)."""
    folder = tmp_path / "routes"
    folder.mkdir()
    shutil.copy(SAMPLE_FLOWS / "site.json", folder / "site.json")
    (folder / "main.json").write_text(json.dumps(FLOW), "utf-8")
    _truncate(database_url)
    application = create_app(config | {"FLOWS_DIR": str(folder)})
    yield application
    application.extensions["ivr.db"].engine.dispose()


def place(app: Flask, number: str, key: str, agents: Agents | None = None) -> tuple[Any, ...]:
    """A call from `number` that presses `key`: its desk, overflow_from, and how it reached the desk."""
    clock = VirtualClock(OPEN)
    app.config["IVR_CLOCK"] = clock.now
    caller = Caller.scripted([Input(digits=key)])
    transport = WsgiTransport(app, AUTH_TOKEN)
    result = SimulatedCall(transport, "https://ivr.test", number, MAIN_LINE, clock, caller, agents).run()
    assert result.ok, (result.error, result.status_problems)
    with app.extensions["ivr.db"].sessionmaker() as session:
        row = call_row(session, result.call_sid)
        assert row.queue_result == "bridged"
        return row.desk, row.overflow_from, row.route_strategy, row.assignment, row.segment


def test_split_fixed_and_fallback_calls_say_how_they_reached_their_desk(line: Flask) -> None:
    callers = [f"+1415555{n:04d}" for n in range(12)]
    billing = {number: place(line, number, "1") for number in callers}
    assert {row[1:] for row in billing.values()} == {(None, "sticky", "split", "billing")}
    assert {row[0] for row in billing.values()} == {"local", "bpo"}  # the split used both desks
    again = [place(line, number, "1")[0] for number in callers[:4]]
    assert again == [billing[number][0] for number in callers[:4]]  # a caller who calls again: the same desk

    assert place(line, callers[0], "2") == ("local", None, "fixed", "directed", "main_menu:2")
    assert place(line, callers[0], "3") == ("bpo", None, "fallback", "directed", "main_menu:3")


def test_the_local_desks_overflow_rule_keeps_how_the_call_was_routed(line: Flask) -> None:
    slow = SLOW
    assert place(line, "+14155550001", "2", slow) == ("bpo", "local", "fixed", "directed", "main_menu:2")
    split = {place(line, f"+1415555{n:04d}", "1", slow) for n in range(8)}
    assert split == {
        ("bpo", "local", "sticky", "split", "billing"),  # chosen by the split for local, answered at bpo
        ("bpo", None, "sticky", "split", "billing"),
    }


def how_calls_were_routed(app: Flask) -> dict[str, tuple[Any, ...]]:
    """Every caller's call: its desk, overflow_from and how it reached the desk."""
    with app.extensions["ivr.db"].sessionmaker() as session:
        calls = session.scalars(select(Call).where(Call.role == "caller"))
        return {
            c.call_sid: (c.desk, c.overflow_from, c.route_strategy, c.assignment, c.segment) for c in calls
        }


def test_migration_0006_fills_a_log_the_engine_made_as_the_engine_did(line: Flask, database_url: str) -> None:
    for n in range(4):
        for key in "123":
            place(line, f"+1415555{n:04d}", key)
            place(line, f"+1415555{n:04d}", key, SLOW)
    made = how_calls_were_routed(line)
    assert {row[2:4] for row in made.values()} == {
        ("sticky", "split"),
        ("fixed", "directed"),
        ("fallback", "directed"),
    }
    line.extensions["ivr.db"].engine.dispose()
    downgrade(database_url, "0005")  # drops the three columns
    upgrade(database_url)  # and fills them again from the events
    assert how_calls_were_routed(line) == made
