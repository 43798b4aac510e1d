"""How a call reached its desk: route_strategy, assignment and segment on its row and in its route event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ivr.engine import CallContext, CallUpdates
from ivr.engine.effects import UNCHANGED
from ivr.engine.routing import QueueStats

from .support import CALL_SID, CALLED, CALLER, MONDAY_MORNING, Call, hangup, make_site
from .test_routing import site_doc

QUEUE = {"type": "enqueue", "next": "bye", "timeout": "again", "failed": "bye"}
AGAIN = {  # after waiting too long: press 1 to go back to the queue
    "type": "menu",
    "prompt": "Press 1 to keep waiting.",
    "options": {"1": "queue"},
    "timeout": "bye",
    "invalid": "bye",
}
ENDINGS = {"again": AGAIN, "bye": hangup("Goodbye.")}
SPLIT = {"strategy": "sticky", "weights": {"local": 1, "bpo": 1}}


def how(updates: CallUpdates) -> tuple[Any, Any, Any]:
    return updates.route_strategy, updates.assignment, updates.segment


def call_through(
    nodes: Mapping[str, Any],
    *,
    caller: str = CALLER,
    doc: Mapping[str, Any] | None = None,
    stats: Mapping[str, QueueStats] | None = None,
) -> Call:
    """A call through `nodes` (the first is the start), then a queue node 'queue' and the endings."""
    figures = (lambda desk: stats[desk]) if stats is not None else None
    ctx = CallContext(call_sid=CALL_SID, caller=caller, called=CALLED, now=MONDAY_MORNING, queues=figures)
    flow = {**nodes, "queue": QUEUE | nodes.get("queue", {}), **ENDINGS}
    return Call(make_site(flow, site=doc), ctx=ctx)


def route(**fields: Any) -> dict[str, Any]:
    return {"type": "route", "next": "queue"} | fields


class TestEachStrategy:
    @pytest.mark.parametrize(
        ("fields", "assignment"),
        [
            ({"desk": "bpo"}, "directed"),
            ({"strategy": "weighted", "weights": {"local": 70, "bpo": 30}}, "split"),
            ({"strategy": "weighted", "weights": {"local": 0, "bpo": 1}}, "directed"),  # one desk only
            ({"strategy": "weighted", "weights": {"bpo": 1}}, "directed"),
            ({"strategy": "sticky", "weights": {"local": 1, "bpo": 1, "phone": 0}}, "split"),
            ({"strategy": "sticky", "weights": {"local": 1, "bpo": 0}}, "directed"),
            ({"strategy": "schedule", "desks": ["local", "bpo"]}, "directed"),
            ({"strategy": "overflow", "desk": "local", "to": "bpo"}, "directed"),
            ({"strategy": "failover", "desks": ["local", "bpo"]}, "directed"),
        ],
    )
    def test_the_route_sets_its_strategy_and_whether_a_split_chose(
        self, fields: dict[str, Any], assignment: str
    ) -> None:
        call = call_through({"route": route(**fields)})
        strategy = fields.get("strategy", "fixed")
        assert how(call.result.updates) == (strategy, assignment, "(none)")
        event = call.entry("route").data
        assert (event["strategy"], event["assignment"], event["segment"]) == (strategy, assignment, "(none)")
        assert event["desk"] == call.result.updates.desk

    def test_a_withheld_number_is_still_split(self) -> None:
        call = call_through({"route": route(**SPLIT)}, caller="anonymous")
        assert how(call.result.updates) == ("sticky", "split", "(none)")


class TestSegment:
    MENU = {
        "type": "menu",
        "prompt": "Press 1 for billing.",
        "options": {"1": "route"},
        "timeout": "bye",
        "invalid": "bye",
    }

    def test_the_routes_label_is_the_segment(self) -> None:
        call = call_through({"route": route(segment="billing", **SPLIT)})
        assert how(call.result.updates) == ("sticky", "split", "billing")

    def test_without_a_label_the_menu_path_is_the_segment(self) -> None:
        call = call_through({"main_menu": self.MENU, "route": route(**SPLIT)})
        assert how(call.result.updates) == (UNCHANGED,) * 3  # the call waits in the menu: not routed yet
        call.step("input", Digits="1")
        assert how(call.result.updates) == ("sticky", "split", "main_menu:1")
        assert call.entry("route").data["segment"] == "main_menu:1"

    def test_a_label_wins_over_the_path(self) -> None:
        call = call_through({"main_menu": self.MENU, "route": route(desk="local", segment="Facturación")})
        call.step("input", Digits="1")
        assert how(call.result.updates) == ("fixed", "directed", "Facturación")


class TestFallback:
    def test_a_queue_node_that_names_its_desk_is_a_fallback(self) -> None:
        call = call_through({"queue": {"desk": "local"}})
        assert how(call.result.updates) == ("fallback", "directed", "(none)")
        assert call.entry("route").data == {
            "desk": "local",
            "strategy": "fallback",
            "reason": "the node names its desk",
            "assignment": "directed",
            "segment": "(none)",
        }

    def test_a_queue_node_that_overrides_the_routed_desk_is_a_fallback(self) -> None:
        call = call_through({"route": route(segment="billing", **SPLIT), "queue": {"desk": "local"}})
        assert how(call.result.updates) == ("fallback", "directed", "(none)")
        assert [e.data["strategy"] for e in call.entries("route")] == ["sticky", "fallback"]

    def test_a_desk_set_by_a_set_node_is_a_fallback_with_the_menu_path_as_segment(self) -> None:
        menu = TestSegment.MENU | {"options": {"1": "pick"}}
        pick = {"type": "set", "values": {"desk": "bpo"}, "next": "queue"}
        call = call_through({"main_menu": menu, "pick": pick})
        call.step("input", Digits="1")
        assert how(call.result.updates) == ("fallback", "directed", "main_menu:1")
        assert call.entry("route").data["reason"] == "no route node chose the desk"

    def test_a_set_node_changing_the_routed_desk_is_a_fallback(self) -> None:
        pick = {"type": "set", "values": {"desk": "bpo"}, "next": "queue"}
        call = call_through({"route": route(desk="local", next="pick"), "pick": pick})
        assert how(call.result.updates) == ("fallback", "directed", "(none)")
        assert call.result.updates.desk == "bpo"


class TestTheDesksRulesKeepTheRoute:
    DOC = site_doc(local={"overflow": {"max_queue": 2, "to": "bpo"}})

    def test_an_overflow_to_the_other_desk_keeps_the_split(self) -> None:
        stats = {"local": QueueStats(2, 1), "bpo": QueueStats(0, 1)}
        call = call_through({"route": route(desk="local", segment="billing")}, doc=self.DOC, stats=stats)
        updates = call.result.updates
        assert (updates.desk, updates.overflow_from) == ("bpo", "local")
        assert how(updates) == ("fixed", "directed", "billing")
        assert len(call.entries("route")) == 1

    def test_back_in_the_queue_later_the_call_keeps_how_it_was_routed(self) -> None:
        call = call_through({"route": route(segment="billing", **SPLIT)})
        routed_to = call.result.updates.desk
        call.step("result", QueueResult="leave", QueueTime="700")  # the node's timeout branch: a menu
        call.step("input", Digits="1")  # back to the queue, in a later step
        assert call.entries("route") == []
        assert how(call.result.updates) == (UNCHANGED,) * 3
        assert call.result.updates.desk == routed_to

    def test_back_in_the_queue_after_an_overflow_the_call_keeps_how_it_was_routed(self) -> None:
        stats = {"local": QueueStats(2, 1), "bpo": QueueStats(0, 1)}
        call = call_through({"route": route(desk="local")}, doc=self.DOC, stats=stats)
        assert call.result.updates.desk == "bpo"
        call.step("result", QueueResult="leave", QueueTime="700")
        call.step("input", Digits="1")  # the desk variable is now bpo, which the overflow rule chose
        assert call.entries("route") == []
        assert call.result.updates.desk == "bpo"
