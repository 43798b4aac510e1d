"""The flow as a graph for the editor: what is drawn from a whole flow, and from one half typed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ivr.engine.graph import condition, describe, flow_graph

from ..conftest import SAMPLE_FLOWS


def _edges(graph: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["label"]) for e in graph["edges"]}


def _node(graph: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in graph["nodes"] if n["id"] == name)


def test_the_sample_main_flow():
    graph = flow_graph(json.loads((SAMPLE_FLOWS / "main.json").read_text()))

    assert _node(graph, "greeting") == {
        "id": "greeting",
        "type": "say",
        "label": "Thank you for calling Acme Home Supplies. Calls…",
        "start": True,
        "unreachable": False,
    }
    assert not any(n["unreachable"] for n in graph["nodes"])
    assert [n["id"] for n in graph["nodes"] if n["start"]] == ["greeting"]
    assert {
        ("greeting", "open_check", ""),
        ("open_check", "language", "open"),
        ("open_check", "after_hours", "closed"),
        ("open_check", "holiday_closed", "holiday"),
        ("main_menu", "to_billing", "1"),
        ("main_menu", "to_operator", "0"),
        ("main_menu", "to_operator", "timeout"),
        ("order_number", "order_confirm", "next"),
        ("order_desk", "to_operator", "account starts 9"),
        ("order_desk", "to_orders", "else"),
        ("language_desk", "spanish_desk", "lang = es"),
        ("queue", "long_wait_voicemail", "failed"),
    } <= _edges(graph)
    assert _node(graph, "open_check")["label"] == "support"
    assert _node(graph, "to_billing")["label"] == "local / bpo"
    assert graph["gotos"] == [] and graph["dangling"] == []


def test_unreachable_nodes_gotos_and_edges_to_nodes_not_written_yet():
    flow = {
        "start": "hello",
        "nodes": {
            "hello": {"type": "say", "prompt": "Hi", "next": "menu"},
            "menu": {
                "type": "menu",
                "prompt": "Press 1",
                "options": {"1": "sales", "2": {"next": "billing"}, "3": {"set": {}}},
                "timeout": "bye",
            },
            "sales": {"type": "goto", "flow": "sales"},
            "bye": {"type": "hangup"},
            "orphan": {"type": "hangup", "prompt": "never heard"},
            "half": "not an object yet",
        },
    }

    graph = flow_graph(flow)

    assert _edges(graph) == {("hello", "menu", ""), ("menu", "sales", "1"), ("menu", "bye", "timeout")}
    assert graph["dangling"] == [{"from": "menu", "to": "billing", "label": "2"}]
    assert graph["gotos"] == [{"from": "sales", "flow": "sales"}]
    assert {n["id"] for n in graph["nodes"] if n["unreachable"]} == {"orphan", "half"}
    assert _node(graph, "half")["type"] == ""


@pytest.mark.parametrize("start", [None, "nowhere", 3])
def test_without_a_start_node_nothing_is_called_unreachable(start):
    flow = {"start": start, "nodes": {"a": {"type": "hangup"}, "b": {"type": "hangup"}}}

    assert [n["unreachable"] for n in flow_graph(flow)["nodes"]] == [False, False]


@pytest.mark.parametrize("data", [None, [], "text", {"nodes": []}, {"nodes": "x"}, {}])
def test_what_is_no_flow_draws_nothing(data):
    assert flow_graph(data) == {"nodes": [], "edges": [], "gotos": [], "dangling": []}


def test_half_written_nodes_draw_what_they_name():
    flow = {
        "start": "a",
        "nodes": {
            "a": {"type": "mystery", "next": "b", "closed": "c", "busy": 4},
            "b": {"type": "menu", "options": ["1"], "invalid": "c"},
            "c": {"type": "branch", "rules": {"if": {}}, "else": "d"},
            "d": {"type": "branch", "rules": ["x", {"next": 5}, {"if": {"var": "v"}, "next": "e"}]},
            "e": {"type": 7, "next": "f"},
            "f": {"type": "goto", "flow": ["not", "a", "name"]},
        },
    }

    graph = flow_graph(flow)

    assert _edges(graph) == {
        ("a", "b", "next"),
        ("a", "c", "closed"),
        ("b", "c", "invalid"),
        ("c", "d", "else"),
        ("d", "e", "v"),
        ("e", "f", "next"),
    }
    assert graph["gotos"] == []


def test_a_rule_without_a_condition_is_numbered():
    flow = {"start": "a", "nodes": {"a": {"type": "branch", "rules": [{"next": "a"}], "else": "a"}}}

    assert _edges(flow_graph(flow)) == {("a", "a", "rule 1"), ("a", "a", "else")}


@pytest.mark.parametrize(
    ("cond", "shown"),
    [
        ({"var": "lang", "equals": "es"}, "lang = es"),
        ({"var": "lang", "not_equals": "es"}, "lang ≠ es"),
        ({"var": "caller", "starts_with": "+44"}, "caller starts +44"),
        ({"var": "desk", "in": ["local", "bpo"]}, "desk in local,bpo"),
        ({"var": "account", "matches": "^9"}, "account ~ ^9"),
        ({"var": "score", "less_than": 3}, "score < 3"),
        ({"var": "score", "greater_than": 3}, "score > 3"),
        ({"var": "account", "is_set": True}, "account set true"),
        ({"var": "account"}, "account"),
        ({"all": [{}, {}]}, "all of 2"),
        ({"any": [{}]}, "any of 1"),
        ({"not": {"var": "x", "equals": "1"}}, "not x = 1"),
        ({"not": None}, "not"),
        ({"time": {"after": "09:00"}}, "time"),
        ({"var": "x" * 60, "equals": "y"}, "x" * 47 + "…"),
        ("not a condition", ""),
    ],
)
def test_conditions_in_a_few_words(cond, shown):
    assert condition(cond) == shown


@pytest.mark.parametrize(
    ("node", "shown"),
    [
        ({"prompt": "Hello"}, "Hello"),
        ({"prompt": [{"pause": 1}, {"text": "Welcome", "language": "es"}]}, "Welcome"),
        ({"prompt": {"en": "Good  morning\n", "es": "Buenos días"}}, "Good morning"),
        ({"hold": [{"play": "http://x/music/Busy.mp3"}]}, "♪ Busy.mp3"),
        ({"prompt": {"pause": 2}, "desk": "local"}, "local"),
        ({"prompt": 3, "thanks": ["Thanks"]}, "Thanks"),
        ({"to": ["+15125550100", "sip:desk@x"]}, "+15125550100, sip:desk@x"),
        ({"variable": "account"}, "account"),
        ({"weights": {"local": 1, "bpo": 2}}, "local / bpo"),
        ({"weights": {}, "desk": ""}, ""),
        ({"prompt": "word " * 20}, ("word " * 20)[:47].rstrip() + "…"),
    ],
)
def test_a_node_in_a_few_words(node, shown):
    assert describe(node) == shown
