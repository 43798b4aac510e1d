"""The site as the engine reads it: which flow answers a number, and flow defaults."""

from __future__ import annotations

import pytest

from ivr.engine import Desk, Site

from .support import SITE_DOC, flow_doc

BYE = {"bye": {"type": "hangup"}}


def site(*flows: dict) -> Site:
    return Site.from_json(SITE_DOC, {doc["name"]: doc for doc in flows})


@pytest.mark.parametrize(
    ("number", "flow"),
    [("+15125550100", "sales"), ("+15125550101", "support"), ("+15125550199", "main")],
)
def test_a_number_is_answered_by_its_flow_else_by_the_default_flow(number: str, flow: str) -> None:
    found = site(
        flow_doc(BYE, name="main", default=True),
        flow_doc(BYE, name="sales", numbers=["+15125550100"]),
        flow_doc(BYE, name="support", numbers=["+15125550101"]),
    ).flow_for_number(number)
    assert found is not None
    assert found.name == flow


def test_without_a_default_flow_an_unknown_number_has_no_flow() -> None:
    assert site(flow_doc(BYE, name="sales", numbers=["+15125550100"])).flow_for_number("+15125550199") is None


def test_the_site_file_is_read_into_desks_schedules_and_fallback() -> None:
    built = site(flow_doc(BYE))
    assert built.name == "Test site"
    assert built.desks["local"] == Desk("local", "Local desk", queue="local-desk")
    assert built.desks["phone"] == Desk("phone", "Answering service", dial="+15125550199")
    assert built.schedules["support"]["timezone"] == "America/Chicago"
    assert built.fallback == {"prompt": "Sorry, something went wrong.", "desk": "local"}


def test_a_minimal_site_file() -> None:
    built = Site.from_json(
        {"desks": SITE_DOC["desks"], "fallback": {"prompt": "Sorry."}}, {"main": flow_doc(BYE)}
    )
    assert (built.name, built.schedules) == ("", {})
    main = built.flows["main"]
    assert (main.numbers, main.default, main.languages, main.default_language) == (
        (),
        False,
        {"en": {"code": "en-US"}},
        "en",
    )
