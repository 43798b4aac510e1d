"""A step's typed updates land in the call's row, and each effect reaches its planner through one registry;
what the planners tell is written with the step, after its own events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import pytest

from ivr.calls import log as calllog
from ivr.calls import steps
from ivr.engine import CallState, CallUpdates, Effect, LogEntry, StepResult
from ivr.models import Call
from ivr.voice import effects

from ..conftest import OPEN
from ..helpers import call_row, events


@dataclass(frozen=True)
class Ring(Effect):
    """An effect only this test knows."""

    name: ClassVar[str] = "test_ring"
    times: int


def test_every_effect_of_the_engine_has_a_planner() -> None:
    kinds = {kind for kind in Effect.__subclasses__() if kind.__module__.startswith("ivr.")}
    assert kinds and kinds <= set(effects.PLANNERS)


def test_every_call_update_is_a_column_of_the_call_row() -> None:
    columns = set(Call.__table__.c.keys())
    assert {field.name for field in dataclasses.fields(CallUpdates)} <= columns


def _write(app: Any, call: Any, found: calllog.CallRef, result: StepResult) -> None:
    """Store a step through the app's held connection, with what its effects' planners tell."""
    assert found.site_version_id is not None
    with app.test_request_context("/voice/step", method="POST", data=call.params()):
        store, connection = steps.held()
        planned = effects.planned(call.params(), result, OPEN)
        values = calllog.step_values(found.site_version_id, result)
        store.write(connection, found.id, values, result.log, OPEN, None, planned)


def test_a_step_is_saved_with_what_its_effects_planners_tell(
    app, call, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    call.start()
    found = calllog.find_call(session, call.sid)
    assert found is not None
    asked: list[tuple[str, Effect, str | None]] = []

    def planner(params: Any, effect: Ring, node: str | None, now: datetime) -> LogEntry:
        assert now == OPEN
        asked.append((params["CallSid"], effect, node))
        return LogEntry(effect.name, node, {"rang": effect.times})

    monkeypatch.setitem(effects.PLANNERS, Ring, planner)
    state = CallState(flow="main", node="language")
    updates = CallUpdates(desk="bpo", queue_result=None, survey_score=4)
    result = StepResult(state, [], [LogEntry("node", "language", {})], updates, (Ring(2), Ring(3)))
    _write(app, call, found, result)
    assert asked == [(call.sid, Ring(2), "language"), (call.sid, Ring(3), "language")]
    assert [(e.node, e.data) for e in events(session, call.sid, "test_ring")] == [
        ("language", {"rang": 2}),
        ("language", {"rang": 3}),
    ]
    assert {e.at for e in events(session, call.sid, "test_ring")} == {OPEN}
    last_node = events(session, call.sid, "node")[-1]
    assert all(e.id > last_node.id for e in events(session, call.sid, "test_ring"))  # after the step's own
    row = call_row(session, call.sid)
    assert (row.desk, row.queue_result, row.survey_score, row.overflow_from) == ("bpo", None, 4, None)


def test_a_step_without_effects_writes_only_the_step(app, call, session) -> None:
    call.start()
    found = calllog.find_call(session, call.sid)
    assert found is not None
    before = len(events(session, call.sid, "node"))
    result = StepResult(CallState(flow="main", node="language"), [], [], CallUpdates(path="main_menu:1"))
    _write(app, call, found, result)
    assert call_row(session, call.sid).path == "main_menu:1"
    assert len(events(session, call.sid, "node")) == before
