"""Validation of desks and route nodes: every desk a setting names exists, and each strategy can work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .folders import BYE, Folder

QUEUE = {"type": "enqueue", "failed": "bye"}


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def route_problems(folder: Folder, route: dict[str, Any]) -> list[tuple[str, str | None, str | None, str]]:
    folder.flow({"route": {"type": "route", "next": "queue"} | route, "queue": QUEUE, "bye": BYE})
    return folder.problems()


class TestDesks:
    def test_a_desk_setting_that_names_nothing(self, folder: Folder) -> None:
        folder.site["desks"]["local"] |= {
            "hours": "weekends",
            "timezone": "Mars/Olympus",
            "failover": "local",
            "overflow": {"max_wait": 60, "to": "sales"},
        }
        folder.site["desks"]["phone"] |= {"overflow": {"max_wait": 60, "max_queue": 2, "to": "voicemail"}}
        folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
        assert folder.problems() == [
            ("site.json", None, "desks.local.failover", "a desk cannot send its callers to itself"),
            ("site.json", None, "desks.local.hours", "unknown schedule 'weekends' (schedules: support)"),
            ("site.json", None, "desks.local.overflow.to", "unknown desk 'sales' (other desks: bpo, phone)"),
            (
                "site.json",
                None,
                "desks.local.timezone",
                "unknown time zone 'Mars/Olympus': use an IANA name such as 'America/Chicago' or 'UTC'",
            ),
            ("site.json", None, "desks.phone.overflow.max_queue", "only a queue desk has a queue to cap"),
            ("site.json", None, "desks.phone.overflow.max_wait", "only a queue desk has callers waiting"),
        ]

    def test_a_complete_desk_is_valid(self, folder: Folder) -> None:
        folder.site["desks"]["local"] |= {
            "hours": "support",
            "timezone": "America/Chicago",
            "failover": "bpo",
            "overflow": {"max_wait": 60, "to": "callback"},
            "cost": {"model": "agent_hour", "amount": 30, "currency": "USD"},
            "telephony_per_minute": 0.01,
            "data_policy": {"show_caller_numbers": True},
        }
        folder.site["agent_line"] = {"numbers": ["+15125550198"]}
        folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
        bundle, problems = folder.load()
        assert problems == []
        assert bundle is not None
        desk = bundle.build().desks["local"]
        assert (desk.hours, desk.failover, desk.show_caller_numbers) == ("support", "bpo", True)
        assert desk.cost is not None and desk.cost.model == "agent_hour"

    def test_the_agent_line_number_cannot_answer_a_flow(self, folder: Folder) -> None:
        folder.site["agent_line"] = {"numbers": ["+15125550100"]}
        folder.flow(
            {"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE}, numbers=["+15125550100"]
        )
        assert folder.problems() == [
            ("main.json", None, "numbers", "+15125550100 is the agent line's number (site file)")
        ]

    @pytest.mark.parametrize(
        ("desk", "zone"),
        [
            ({"hours": "support"}, "America/Chicago"),
            ({}, "UTC"),
            ({"timezone": "Asia/Manila"}, "Asia/Manila"),
        ],
    )
    def test_a_desks_time_zone_defaults_to_its_hours(
        self, folder: Folder, desk: dict[str, Any], zone: str
    ) -> None:
        folder.site["desks"]["local"] |= desk
        folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
        bundle, _ = folder.load()
        assert bundle is not None and bundle.build().desks["local"].timezone == zone


class TestRouteNodes:
    def test_every_desk_a_strategy_names_must_exist(self, folder: Folder) -> None:
        assert route_problems(folder, {"strategy": "weighted", "weights": {"local": 1, "sales": 2}}) == [
            ("main.json", "route", "weights.sales", "unknown desk 'sales' (desks: bpo, local, phone)")
        ]

    def test_schedule_and_overflow_names(self, folder: Folder) -> None:
        found = route_problems(folder, {"strategy": "schedule", "desks": ["local", "mars"], "else": "venus"})
        assert [(p[2], p[3]) for p in found] == [
            (
                "desks[0]",
                "desk 'local' has no hours: it is always open, so the desks after it are never chosen",
            ),
            ("desks[1]", "unknown desk 'mars' (desks: bpo, local, phone)"),
            ("else", "unknown desk 'venus' (desks: bpo, local, phone)"),
        ]

    def test_follow_the_sun_with_hours_on_the_earlier_desks(self, folder: Folder) -> None:
        folder.site["desks"]["local"]["hours"] = "support"
        route = {"type": "route", "strategy": "schedule", "desks": ["local", "bpo"], "next": "queue"}
        folder.flow({"route": route, "queue": QUEUE, "bye": BYE})
        assert folder.load()[1] == []

    def test_weights_that_send_no_calls(self, folder: Folder) -> None:
        assert route_problems(folder, {"strategy": "sticky", "weights": {"local": 0, "bpo": 0}}) == [
            ("main.json", "route", "weights", "at least one desk needs a weight above 0")
        ]

    def test_overflow_needs_a_threshold_and_another_desk(self, folder: Folder) -> None:
        found = route_problems(folder, {"strategy": "overflow", "desk": "local", "to": "local"})
        assert [(p[2], p[3]) for p in found] == [
            ("strategy", "overflow needs max_wait or max_queue, on the node or the desk's overflow"),
            ("to", "the overflow desk is the node's own desk"),
        ]

    def test_the_desks_own_overflow_rule_is_a_threshold(self, folder: Folder) -> None:
        folder.site["desks"]["local"]["overflow"] = {"max_queue": 4, "to": "bpo"}
        folder.flow(
            {
                "route": {
                    "type": "route",
                    "strategy": "overflow",
                    "desk": "local",
                    "to": "bpo",
                    "next": "queue",
                },
                "queue": QUEUE,
                "bye": BYE,
            }
        )
        assert folder.load()[1] == []

    def test_a_field_the_strategy_does_not_use_is_named(self, folder: Folder) -> None:
        assert route_problems(folder, {"strategy": "weighted", "weights": {"local": 1}, "desk": "local"}) == [
            ("main.json", "route", "desk", "not used with the node's other settings (see its strategy)")
        ]

    @pytest.mark.parametrize(
        "route",
        [
            {"strategy": "weighted"},
            {"strategy": "weighted", "weights": {"local": 1}, "desk": "local"},
            {"strategy": "schedule", "weights": {"local": 1}},
            {"strategy": "fixed"},
            {},
            {"strategy": "overflow", "desk": "local"},
            {"strategy": "failover", "desks": []},
            {"strategy": "coin", "desk": "local"},
        ],
    )
    def test_the_schema_holds_each_strategy_to_its_fields(
        self, folder: Folder, route: dict[str, Any]
    ) -> None:
        found = route_problems(folder, route)
        assert found and all(p[1] == "route" for p in found), found
