"""The opt_out node (it asks for the do-not-call entry through the step's effects, confirms, goes on) and
the variables a campaign's flow declares (set from the contact list before the flow starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.engine import AddToDoNotCall, CallUpdates
from ivr.engine.actions import Gather, Hangup

from .folders import BYE, Folder
from .support import Call, hangup, make_site, say_en

OPT_OUT = {"type": "opt_out", "prompt": "You will not be called again."}


def test_opt_out_asks_for_the_entry_confirms_and_hangs_up_without_next() -> None:
    call = Call(make_site({"remove": OPT_OUT}))
    assert call.actions == [say_en("You will not be called again."), Hangup()]
    assert (call.result.updates, call.result.effects) == (CallUpdates(), (AddToDoNotCall(),))
    assert [(e.kind, e.node) for e in call.log][-2:] == [("opt_out", "remove"), ("prompt", "remove")]


def test_opt_out_goes_on_to_next_after_a_menu_choice() -> None:
    nodes = {
        "ask": {
            "type": "menu",
            "prompt": "Press 1 to confirm, 9 to stop these calls.",
            "options": {"1": "thanks", "9": "remove"},
            "timeout": "thanks",
            "invalid": "thanks",
        },
        "remove": OPT_OUT | {"next": "bye"},
        "thanks": hangup("Thank you."),
        "bye": hangup("Goodbye."),
    }
    call = Call(make_site(nodes))
    assert isinstance(call.actions[0], Gather)
    call.step("input", Digits="1")
    assert call.actions == [say_en("Thank you."), Hangup()]
    assert call.result.effects == ()
    call = Call(make_site(nodes))
    call.step("input", Digits="9")
    assert call.actions == [say_en("You will not be called again."), say_en("Goodbye."), Hangup()]
    assert (call.result.updates, call.result.effects) == (CallUpdates(path="ask:9"), (AddToDoNotCall(),))
    assert call.state.node == "bye"


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def test_a_flow_may_end_with_opt_out_and_validates(folder: Folder) -> None:
    folder.flow({"remove": OPT_OUT})
    bundle, problems = folder.load()
    assert problems == []
    assert bundle is not None


@pytest.mark.parametrize(
    ("node", "field", "message"),
    [
        (OPT_OUT | {"next": "nowhere"}, "next", "target node 'nowhere' does not exist"),
        (OPT_OUT | {"prompt": " "}, "prompt", "prompt is empty"),
        (OPT_OUT | {"prompt": "Bye {nobody}."}, "prompt", "is used before it is set"),
    ],
)
def test_opt_out_targets_and_prompts_are_checked(
    folder: Folder, node: dict, field: str, message: str
) -> None:
    folder.flow({"remove": node, "bye": BYE} if node.get("next") == "bye" else {"remove": node})
    found = folder.problems()
    assert [(n, f) for _file, n, f, m in found if message in m] == [("remove", field)], found


def test_opt_out_needs_a_prompt_by_schema(folder: Folder) -> None:
    folder.flow({"remove": {"type": "opt_out", "next": "bye"}, "bye": BYE})
    assert folder.problems() == [("main.json", "remove", None, "field 'prompt' is required")]


REMINDER = {
    "hello": {"type": "say", "prompt": "{name}, your visit is on {appointment}.", "next": "bye"},
    "bye": BYE,
}


def test_a_campaign_flow_declares_the_variables_its_contacts_bring(folder: Folder) -> None:
    folder.flow(REMINDER, name="reminder", default=False, variables=["name", "appointment"])
    folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
    bundle, problems = folder.load()
    assert problems == []
    assert bundle is not None


def test_undeclared_contact_variables_are_used_before_they_are_set(folder: Folder) -> None:
    folder.flow(REMINDER, name="reminder", default=False, variables=["name"])
    folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
    assert folder.problems() == [
        (
            "reminder.json",
            "hello",
            "prompt",
            "variable 'appointment' is used before it is set on every path to this node",
        )
    ]


def test_the_site_keeps_the_declared_variables() -> None:
    site = make_site(REMINDER, variables=["name", "appointment"])
    assert site.flows["main"].variables == ("name", "appointment")
    assert make_site(REMINDER).flows["main"].variables == ()
