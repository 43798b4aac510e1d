"""The one-line summary of a version: flows and nodes added, removed, rewired, reworded or changed."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.flows.changes import changes

from .sample import bundle, edited, greeting, sample_texts


def _add_node(flow: dict[str, Any]) -> None:
    flow["nodes"]["goodbye"] = {"type": "hangup", "prompt": "Goodbye."}
    flow["nodes"]["main_menu"]["options"]["9"] = {"next": "goodbye"}


def _rewire(flow: dict[str, Any]) -> None:
    flow["nodes"]["main_menu"]["timeout"] = "to_billing"


def _retries(flow: dict[str, Any]) -> None:
    flow["nodes"]["main_menu"]["retries"] = 1


def _speech(flow: dict[str, Any]) -> None:
    flow["nodes"]["main_menu"]["options"]["1"]["speech"].append("invoice")


def _rewire_and_reword(flow: dict[str, Any]) -> None:
    greeting("Hello!")(flow)
    flow["nodes"]["greeting"]["next"] = "main_menu"
    del flow["nodes"]["open_check"]


def _numbers(flow: dict[str, Any]) -> None:
    flow["numbers"] = [*flow.get("numbers", []), "+15125550777"]


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (greeting("Hi there."), "main: reworded 'greeting'"),
        (_add_node, "main: added node 'goodbye'; rewired 'main_menu'"),
        (_rewire, "main: rewired 'main_menu'"),
        (_retries, "main: changed 'main_menu'"),
        (_speech, "main: changed 'main_menu'"),  # a menu option's words, not where it leads
        (_rewire_and_reword, "main: removed node 'open_check'; rewired 'greeting'; reworded 'greeting'"),
        (_numbers, "main: changed flow settings"),
    ],
)
def test_one_flow_changed(edit, line: str) -> None:
    texts = sample_texts()
    assert changes(bundle(texts), bundle(edited(texts, edit))).line() == line


def test_flows_added_and_removed_and_the_site_changed() -> None:
    texts = sample_texts()
    other = {"name": "promo", "start": "bye", "nodes": {"bye": {"type": "hangup", "prompt": "Bye."}}}
    more = edited(texts | {"promo.json": "{}"}, lambda flow: flow.update(other), "promo.json")
    renamed = edited(more, lambda site: site.update(name="Acme"), "site.json")
    assert changes(bundle(texts), bundle(renamed)).line() == "added flow 'promo'; changed site settings"
    assert changes(bundle(renamed), bundle(texts)).line() == "removed flow 'promo'; changed site settings"


def test_the_first_version_and_no_change() -> None:
    texts = sample_texts()
    assert changes(None, bundle(texts)).line() == "added flow 'main'; changed site settings"
    assert changes(bundle(texts), bundle(texts)).line() == "no change"
    assert not changes(bundle(texts), bundle(texts))


def test_a_new_layout_with_the_same_meaning_is_reformatted() -> None:
    texts = sample_texts()
    reformatted = edited(texts, lambda flow: None)  # indent 2 instead of the file's own layout
    assert reformatted["main.json"] != texts["main.json"]
    assert changes(bundle(texts), bundle(reformatted)).line() == "reformatted 'main.json'"


def test_long_lists_are_cut_short() -> None:
    texts = sample_texts()

    def reword_all(flow: dict[str, Any]) -> None:
        for node in ("greeting", "survey", "after_hours", "holiday_closed", "long_wait_voicemail"):
            flow["nodes"][node]["prompt"] = "Changed."

    line = changes(bundle(texts), bundle(edited(texts, reword_all))).line()
    assert line.startswith("main: reworded ") and line.endswith(" and 1 more")
    assert line.count("'") == 8
