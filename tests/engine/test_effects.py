"""What a step changes: typed call updates and named effects; starting variables; imports point one way."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import ivr.engine
from ivr.engine import UNCHANGED, AddToDoNotCall, CallUpdates, Effect, start
from ivr.engine.actions import Hangup

from .support import MONDAY_MORNING, Call, context, hangup, make_site, say_en

ENGINE = Path(ivr.engine.__file__).parent


def test_updates_name_only_the_fields_that_are_set_and_none_clears() -> None:
    assert CallUpdates().changed() == {}
    updates = CallUpdates(desk="bpo", queue_result=None, queued_at=MONDAY_MORNING)
    assert updates.changed() == {"desk": "bpo", "queue_result": None, "queued_at": MONDAY_MORNING}
    assert updates.queue_time is UNCHANGED


def test_later_updates_replace_earlier_ones_and_keep_the_rest() -> None:
    first = CallUpdates(desk="local", queue_result="leave", queued_at=MONDAY_MORNING)
    later = CallUpdates(desk="bpo", queue_result=None, overflow_from="local")
    assert first.then(later) == CallUpdates(
        desk="bpo", queue_result=None, overflow_from="local", queued_at=MONDAY_MORNING
    )
    assert first.then(CallUpdates()) == first
    assert first == CallUpdates(desk="local", queue_result="leave", queued_at=MONDAY_MORNING)  # unchanged


def test_updates_show_only_what_they_set() -> None:
    assert repr(CallUpdates()) == "CallUpdates()"
    assert repr(CallUpdates(desk="bpo", queue_time=None)) == "CallUpdates(desk='bpo', queue_time=None)"


def test_updates_and_effects_are_frozen_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CallUpdates().desk = "bpo"  # type: ignore[misc]
    assert AddToDoNotCall() == AddToDoNotCall()
    assert {AddToDoNotCall(), AddToDoNotCall()} == {AddToDoNotCall()}


def test_every_effect_has_a_distinct_name() -> None:
    names = [kind.name for kind in Effect.__subclasses__()]
    assert AddToDoNotCall.name == "do_not_call"
    assert len(names) == len(set(names))


def test_a_step_that_changes_nothing_says_so() -> None:
    call = Call(make_site({"bye": hangup("Bye.")}))
    assert (call.result.updates, call.result.effects) == (CallUpdates(), ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.result.effects = (AddToDoNotCall(),)  # type: ignore[misc]


def test_a_call_starts_with_the_variables_it_is_given() -> None:
    hello = {"type": "say", "prompt": "Hello {name}.", "next": "bye"}
    site = make_site({"hello": hello, "bye": hangup("Bye.")})
    given = {"name": "Ada"}
    result = start(site, "main", context(), variables=given)
    assert result.actions == [say_en("Hello Ada."), say_en("Bye."), Hangup()]
    assert result.state.variables == {"name": "Ada"}
    assert [(e.kind, e.data) for e in result.log][0] == ("flow_started", {"flow": "main"})
    result.state.variables["name"] = "Grace"
    assert given == {"name": "Ada"}  # the call's variables are its own copy
    assert start(site, "main", context()).state.variables == {}


def _imports(path: Path) -> tuple[set[str], list[int]]:
    """The engine modules a file imports at module level, and the lines of imports inside functions."""
    tree = ast.parse(path.read_text())
    top = {
        alias.name if node.module is None else node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }
    nested = [
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    return top, nested


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda path: path.name)
def test_engine_imports_at_module_level_only(path: Path) -> None:
    assert _imports(path)[1] == []


def test_the_runtime_does_not_import_the_nodes_it_runs() -> None:
    assert _imports(ENGINE / "runtime.py")[0].isdisjoint({"nodes", "runner", "validate", "loader"})
    assert {"nodes", "runtime"} <= _imports(ENGINE / "runner.py")[0]
