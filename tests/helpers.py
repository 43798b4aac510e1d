"""Helpers for reading the call log in tests, and a caller and an agent meeting through the simulator."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ivr.flows.store import FolderWatch
from ivr.models import AuditEntry, Call, CallEvent
from ivr.sim import Agents, Caller, CallResult, Input, SimulatedCall, VirtualClock, WsgiTransport
from ivr.sim.floor import DeskModel, DeskPool, ModelQueues, Switchboard

from .conftest import AUTH_TOKEN, OPEN

MAIN_LINE = "+15125550100"
AGENT_LINE = "+15125550199"
CALLER_PHONE = "+15125550142"
AGENT_PHONE = "+17375550101"


def call_row(session: Session, sid: str) -> Call:
    """The call row, read fresh."""
    session.expire_all()
    return session.scalars(select(Call).where(Call.call_sid == sid)).one()


def event_kinds(session: Session, sid: str) -> list[str]:
    """The kinds of a call's events, in order."""
    call = call_row(session, sid)
    return list(
        session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
    )


def events(session: Session, sid: str, kind: str) -> list[CallEvent]:
    """A call's events of one kind, in order."""
    call = call_row(session, sid)
    query = (
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == kind).order_by(CallEvent.id)
    )
    return list(session.scalars(query))


def sample_segment(flows_dir: Path, route: str, path: str) -> str:
    """The segment of a call the sample's route node `route` routed after the menu choices `path`: the
    node's label if the sample flow gives it one, else the path."""
    nodes = json.loads((flows_dir / "main.json").read_text("utf-8"))["nodes"]
    return str(nodes[route].get("segment", path))


@dataclass(frozen=True)
class Meeting:
    """A caller and an agent who met through the simulator, and how each call ended."""

    caller: SimulatedCall
    agent: SimulatedCall
    results: dict[str, CallResult]


def caller_meets_agent(app: Flask, wait: int = 90, talk: int = 200) -> Meeting:
    """At OPEN a caller picks technical support (1, 2) and waits at the local desk; `wait` seconds later
    agent 1001 (PIN 432198, who must exist) calls the agent line, takes them and talks `talk` seconds; the
    caller rates the call 5."""
    clock = VirtualClock(OPEN)
    app.config["IVR_CLOCK"] = clock.now
    board = Switchboard(clock)
    nobody = {"weekday": [0] * 24, "weekend": [0] * 24}
    model = DeskModel("local-desk", nobody, 300, {"none": 1}, 0, "America/Chicago")
    queues = ModelQueues({"local-desk": DeskPool(model, board, random.Random(1))})
    transport = WsgiTransport(app, AUTH_TOKEN)

    def call(number: str, to: str, keys: list[str], agents: Agents | None = None) -> SimulatedCall:
        script = Caller.scripted([Input(digits=k) for k in keys])
        return SimulatedCall(transport, "https://ivr.test", number, to, clock, script, agents, queues=queues)

    caller = call(CALLER_PHONE, MAIN_LINE, ["1", "2", "5"])
    agent = call(AGENT_PHONE, AGENT_LINE, ["1001#", "432198#", "*"], Agents(talk_seconds=talk))
    results: dict[str, CallResult] = {}
    board.spawn(OPEN, lambda: results.setdefault("caller", caller.run()))
    board.spawn(OPEN + timedelta(seconds=wait), lambda: results.setdefault("agent", agent.run()))
    board.run()
    clock.scheduler = None
    return Meeting(caller, agent, results)


def not_the_sample_folder() -> ColumnElement[bool]:
    """Audit entries other than the publish of the watched sample folder (made when the app first serves)."""
    return AuditEntry.actor != FolderWatch.name
