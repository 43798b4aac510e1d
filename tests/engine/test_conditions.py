"""Branch nodes: each condition operator, combined conditions, rule order and the else branch."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine import LogEntry

from .support import CALLER, Call, context, hangup, make_site, say_en


def branch_call(cond: dict[str, Any], variables: dict[str, str] | None = None, caller: str = CALLER) -> Call:
    """A call that sets `variables`, then branches on `cond` to 'yes' or 'no'."""
    nodes: dict[str, Any] = {}
    if variables:
        nodes["facts"] = {"type": "set", "values": variables, "next": "check"}
    nodes |= {
        "check": {"type": "branch", "rules": [{"if": cond, "next": "yes"}], "else": "no"},
        "yes": hangup("Yes."),
        "no": hangup("No."),
    }
    return Call(make_site(nodes), ctx=context(caller=caller))


def holds(cond: dict[str, Any], variables: dict[str, str] | None = None, caller: str = CALLER) -> bool:
    call = branch_call(cond, variables, caller)
    return call.state.node == "yes"


GOLD = {"tier": "gold"}


@pytest.mark.parametrize(
    ("cond", "variables", "expected"),
    [
        ({"var": "tier", "equals": "gold"}, GOLD, True),
        ({"var": "tier", "equals": "gold"}, {"tier": "Gold"}, False),
        ({"var": "tier", "equals": "gold"}, None, False),
        ({"var": "tier", "not_equals": "gold"}, {"tier": "silver"}, True),
        ({"var": "tier", "not_equals": "gold"}, GOLD, False),
        ({"var": "tier", "not_equals": "gold"}, None, False),
        ({"var": "tier", "in": ["gold", "platinum"]}, GOLD, True),
        ({"var": "tier", "in": ["silver", "bronze"]}, GOLD, False),
        ({"var": "account", "matches": "^9[0-9]+$"}, {"account": "9123"}, True),
        ({"var": "account", "matches": "^9[0-9]+$"}, {"account": "19123"}, False),
        ({"var": "account", "matches": "12"}, {"account": "9123"}, True),
        ({"var": "account", "starts_with": "9"}, {"account": "9123"}, True),
        ({"var": "account", "starts_with": "9"}, {"account": "1239"}, False),
        ({"var": "count", "less_than": 10}, {"count": "9"}, True),
        ({"var": "count", "less_than": 10}, {"count": "9.5"}, True),
        ({"var": "count", "less_than": 10}, {"count": "10"}, False),
        ({"var": "count", "less_than": 10}, {"count": "nine"}, False),
        ({"var": "count", "less_than": 10}, {"count": ""}, False),
        ({"var": "count", "greater_than": 10}, {"count": "10.5"}, True),
        ({"var": "count", "greater_than": 10}, {"count": "10"}, False),
        ({"var": "count", "greater_than": -1}, {"count": "x"}, False),
        ({"var": "count", "greater_than": 1, "less_than": 5}, {"count": "3"}, True),
        ({"var": "count", "greater_than": 1, "less_than": 5}, {"count": "7"}, False),
        ({"var": "tier", "is_set": True}, GOLD, True),
        ({"var": "tier", "is_set": True}, {"tier": ""}, True),
        ({"var": "tier", "is_set": True}, None, False),
        ({"var": "tier", "is_set": False}, None, True),
        ({"var": "tier", "is_set": False}, GOLD, False),
        # is_set is one more comparison: the others must hold as well.
        ({"var": "account", "is_set": True, "starts_with": "9"}, {"account": "9123"}, True),
        ({"var": "account", "is_set": True, "starts_with": "9"}, {"account": "1234"}, False),
        ({"var": "account", "is_set": True, "starts_with": "9"}, None, False),
        ({"var": "account", "is_set": False, "equals": "9"}, None, False),
        ({"var": "lang", "equals": "en"}, None, True),
        ({"var": "lang", "equals": "es"}, {"lang": "es"}, True),
        ({"var": "called", "equals": "+15125550100"}, None, True),
        ({"var": "call_sid", "starts_with": "CA"}, None, True),
        ({"all": [{"var": "tier", "equals": "gold"}, {"var": "caller", "starts_with": "+1512"}]}, GOLD, True),
        ({"all": [{"var": "tier", "equals": "gold"}, {"var": "caller", "starts_with": "+44"}]}, GOLD, False),
        (
            {"any": [{"var": "tier", "equals": "silver"}, {"var": "caller", "starts_with": "+1512"}]},
            None,
            True,
        ),
        (
            {"any": [{"var": "tier", "equals": "silver"}, {"var": "caller", "starts_with": "+44"}]},
            GOLD,
            False,
        ),
        ({"not": {"var": "tier", "equals": "gold"}}, GOLD, False),
        ({"not": {"var": "tier", "equals": "gold"}}, None, True),
        ({"not": {"any": [{"var": "tier", "is_set": True}, {"var": "lang", "equals": "es"}]}}, None, True),
    ],
)
def test_condition(cond: dict[str, Any], variables: dict[str, str] | None, expected: bool) -> None:
    assert holds(cond, variables) is expected


@pytest.mark.parametrize(("caller", "expected"), [("+15125550111", True), ("+442071234567", False)])
def test_caller_number(caller: str, expected: bool) -> None:
    assert holds({"var": "caller", "starts_with": "+1"}, caller=caller) is expected


def test_the_first_rule_that_holds_wins_and_is_logged() -> None:
    nodes = {
        "check": {
            "type": "branch",
            "rules": [
                {"if": {"var": "caller", "starts_with": "+44"}, "next": "uk"},
                {"if": {"var": "caller", "starts_with": "+1"}, "next": "us"},
                {"if": {"var": "caller", "is_set": True}, "next": "anyone"},
            ],
            "else": "nobody",
        },
        "uk": hangup("UK."),
        "us": hangup("US."),
        "anyone": hangup("Anyone."),
        "nobody": hangup("Nobody."),
    }
    call = Call(make_site(nodes))
    assert call.entry("branch") == LogEntry("branch", "check", {"rule": 1})
    assert call.actions[0] == say_en("US.")


def test_else_is_logged_when_no_rule_holds() -> None:
    call = branch_call({"var": "tier", "equals": "gold"})
    assert call.entry("branch") == LogEntry("branch", "check", {"rule": "else"})
    assert call.actions[0] == say_en("No.")
