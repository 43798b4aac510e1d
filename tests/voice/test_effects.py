"""A step's typed updates land in the call's row, and each effect reaches its owner (the Session path) and its
planner (the one write) through a registry each."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import pytest

from ivr.calls import log as calllog
from ivr.engine import CallState, CallUpdates, Effect, StepResult
from ivr.models import Call
from ivr.voice import effects

from ..conftest import OPEN
from ..helpers import call_row, events


@dataclass(frozen=True)
class Ring(Effect):
    """An effect only this test knows."""

    name: ClassVar[str] = "test_ring"
    times: int


def test_every_effect_of_the_engine_has_an_owner_and_a_planner() -> None:
    kinds = {kind for kind in Effect.__subclasses__() if kind.__module__.startswith("ivr.")}
    assert kinds and kinds <= set(effects.OWNERS) and kinds <= set(effects.PLANNERS)


def test_every_call_update_is_a_column_of_the_call_row() -> None:
    columns = set(Call.__table__.c.keys())
    assert {field.name for field in dataclasses.fields(CallUpdates)} <= columns


def test_a_step_is_saved_then_its_effects_go_to_their_owners(
    call, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    call.start()
    found = calllog.find_call(session, call.sid)
    assert found is not None and found.site_version_id is not None
    handed: list[tuple[int, Effect]] = []

    def owner(s: Any, call_id: int, effect: Ring, now: datetime) -> dict[str, Any]:
        assert s is session and now == OPEN
        handed.append((call_id, effect))
        return {"rang": effect.times}

    monkeypatch.setitem(effects.OWNERS, Ring, owner)
    state = CallState(flow="main", node="language")
    updates = CallUpdates(desk="bpo", queue_result=None, survey_score=4)
    result = StepResult(state, [], [], updates, (Ring(2), Ring(3)))
    effects.save_and_apply(session, found, found.site_version_id, result, OPEN)
    session.commit()
    assert handed == [(found.id, Ring(2)), (found.id, Ring(3))]
    assert [(e.node, e.data) for e in events(session, call.sid, "test_ring")] == [
        ("language", {"rang": 2}),
        ("language", {"rang": 3}),
    ]
    assert {e.at for e in events(session, call.sid, "test_ring")} == {OPEN}
    row = call_row(session, call.sid)
    assert (row.desk, row.queue_result, row.survey_score, row.overflow_from) == ("bpo", None, 4, None)


def test_a_step_without_effects_only_saves(call, session, monkeypatch: pytest.MonkeyPatch) -> None:
    call.start()
    found = calllog.find_call(session, call.sid)
    assert found is not None and found.site_version_id is not None
    monkeypatch.setattr(effects, "OWNERS", {})  # no owner is asked
    before = len(events(session, call.sid, "node"))
    result = StepResult(CallState(flow="main", node="language"), [], [], CallUpdates(path="main_menu:1"))
    effects.save_and_apply(session, found, found.site_version_id, result, OPEN)
    session.commit()
    assert call_row(session, call.sid).path == "main_menu:1"
    assert len(events(session, call.sid, "node")) == before
