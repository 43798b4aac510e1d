"""FlowError: what the engine refuses, for sites built without validation."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine import CallState, FlowError, start, step
from ivr.engine.actions import Event
from ivr.engine.runner import MAX_HOPS

from .support import Call, context, hangup, make_site

WAITING_NODES: dict[str, dict[str, Any]] = {
    "menu": {
        "type": "menu",
        "prompt": "Press 1.",
        "options": {"1": "bye"},
        "timeout": "bye",
        "invalid": "bye",
    },
    "gather": {
        "type": "gather",
        "prompt": "Digits?",
        "variable": "x",
        "next": "bye",
        "timeout": "bye",
        "invalid": "bye",
    },
    "survey": {"type": "survey", "prompt": "Rate us."},
    "enqueue": {"type": "enqueue", "desk": "local", "failed": "bye"},
    "dial": {"type": "dial", "to": "+15125550123", "failed": "bye"},
    "voicemail": {"type": "voicemail", "prompt": "Leave a message."},
}


def test_starting_an_unknown_flow() -> None:
    with pytest.raises(FlowError, match="no flow named 'sales'"):
        start(make_site({"bye": hangup("Bye.")}), "sales", context())


def test_stepping_a_call_in_an_unknown_flow() -> None:
    site = make_site({"bye": hangup("Bye.")})
    with pytest.raises(FlowError, match="no flow named 'sales'"):
        step(site, CallState(flow="sales", node="menu"), "input", {}, context())


def test_stepping_a_call_that_has_no_current_node() -> None:
    with pytest.raises(FlowError, match="no current node"):
        step(make_site({"bye": hangup("Bye.")}), CallState(flow="main"), "input", {}, context())


def test_stepping_a_call_at_a_node_that_no_longer_exists() -> None:
    site = make_site({"bye": hangup("Bye.")})
    with pytest.raises(FlowError, match="flow 'main' has no node 'menu'"):
        step(site, CallState(flow="main", node="menu"), "input", {"Digits": "1"}, context())


def test_a_missing_start_node() -> None:
    with pytest.raises(FlowError, match="flow 'main' has no node 'welcome'"):
        start(make_site({"bye": hangup("Bye.")}, start="welcome"), "main", context())


def test_a_missing_next_node() -> None:
    with pytest.raises(FlowError, match="flow 'main' has no node 'nowhere'"):
        start(make_site({"hello": {"type": "say", "prompt": "Hi.", "next": "nowhere"}}), "main", context())


@pytest.mark.parametrize(
    ("node", "event"),
    [
        ("menu", "wait"),
        ("menu", "result"),
        ("gather", "result"),
        ("survey", "wait"),
        ("enqueue", "input"),
        ("dial", "input"),
        ("dial", "wait"),
        ("voicemail", "input"),
        ("voicemail", "wait"),
    ],
)
def test_a_waiting_node_rejects_events_it_does_not_wait_for(node: str, event: Event) -> None:
    call = Call(make_site({node: WAITING_NODES[node], "bye": hangup("Bye.")}))
    assert call.state.node == node
    with pytest.raises(FlowError, match=rf"node '{node}' \({node}\) does not take a '{event}' event"):
        call.step(event)


def test_a_node_that_never_waits_takes_no_event() -> None:
    site = make_site({"bye": hangup("Bye.")})
    with pytest.raises(FlowError, match=r"node 'bye' \(hangup\) does not take a 'input' event"):
        step(site, CallState(flow="main", node="bye"), "input", {"Digits": "1"}, context())


def test_a_flow_that_never_waits_is_stopped() -> None:
    nodes = {
        "a": {"type": "set", "values": {"n": "{n}1"}, "next": "b"},
        "b": {"type": "say", "prompt": "Again.", "next": "a"},
    }
    with pytest.raises(FlowError, match=f"flow 'main' passed {MAX_HOPS} nodes without waiting for input"):
        start(make_site(nodes), "main", context())


def test_a_long_flow_that_does_end_is_not_stopped() -> None:
    chain = {
        f"n{i}": {"type": "set", "values": {"i": str(i)}, "next": f"n{i + 1}"} for i in range(MAX_HOPS - 1)
    }
    call = Call(make_site({**chain, f"n{MAX_HOPS - 1}": hangup("Done.")}))
    assert call.state.node == f"n{MAX_HOPS - 1}"
