"""Validation by meaning: each check names the file, node and field, and every problem is reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.engine import Problem

from .folders import BYE, Folder

ZONE_HINT = ": use an IANA name such as 'America/Chicago' or 'UTC'"
UNSET = "variable {!r} is used before it is set on every path to this node"


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def say(prompt: Any, next: str = "bye") -> dict[str, Any]:
    return {"type": "say", "prompt": prompt, "next": next}


def menu(options: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "type": "menu",
        "prompt": "Choose.",
        "options": options,
        "timeout": "bye",
        "invalid": "bye",
    } | fields


def gather(variable: str = "account", **fields: Any) -> dict[str, Any]:
    node = {"type": "gather", "prompt": "Digits?", "variable": variable, "next": "bye", "timeout": "bye"}
    return node | {"invalid": "bye"} | fields


def branch(cond: dict[str, Any], next: str = "bye", otherwise: str = "bye") -> dict[str, Any]:
    return {"type": "branch", "rules": [{"if": cond, "next": next}], "else": otherwise}


def test_a_valid_folder_gives_a_bundle(folder: Folder) -> None:
    folder.flow({"hello": say("Hi."), "bye": BYE})
    bundle, problems = folder.load()
    assert problems == []
    assert bundle is not None
    assert bundle.files == {"main": "main.json"}
    assert bundle.flows["main"]["nodes"]["hello"] == say("Hi.")


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (say("Hi.", next="nowhere"), "next"),
        (menu({"1": "bye", "2": {"next": "nowhere"}}), "options.2"),
        (menu({"1": "bye"}, timeout="nowhere"), "timeout"),
        (gather(invalid="nowhere"), "invalid"),
        (branch({"var": "caller", "starts_with": "+1"}, next="nowhere"), "rules[0].next"),
        (branch({"var": "caller", "starts_with": "+1"}, otherwise="nowhere"), "else"),
        (
            {"type": "hours", "schedule": "support", "open": "bye", "closed": "bye", "holiday": "nowhere"},
            "holiday",
        ),
        ({"type": "dial", "to": "+15125550123", "busy": "nowhere", "failed": "bye"}, "busy"),
        ({"type": "enqueue", "desk": "local", "next": "nowhere", "failed": "bye"}, "next"),
        ({"type": "route", "desk": "local", "next": "nowhere"}, "next"),
        ({"type": "set", "values": {"x": "1"}, "next": "nowhere"}, "next"),
    ],
)
def test_a_missing_target(folder: Folder, node: dict[str, Any], field: str) -> None:
    folder.flow({"node": node, "bye": BYE})
    assert ("main.json", "node", field, "target node 'nowhere' does not exist") in folder.problems()


def test_an_unreachable_node_is_a_warning_that_does_not_stop_publishing(folder: Folder) -> None:
    folder.flow({"hello": say("Hi."), "bye": BYE, "orphan": say("Nobody hears this.")})
    bundle, problems = folder.load()
    assert bundle is not None and "orphan" in bundle.flows["main"]["nodes"]
    assert [(Path(p.file).name, p.node, p.message, p.severity) for p in problems] == [
        ("main.json", "orphan", "node is unreachable from the start node 'hello'", "warning")
    ]
    assert str(problems[0]).endswith(
        "main.json: node 'orphan': warning: node is unreachable from the start node 'hello'"
    )


def test_nodes_from_which_the_call_never_ends(folder: Folder) -> None:
    folder.flow(
        {"hello": say("Hi.", next="menu"), "menu": menu({"1": "menu"}, timeout="hello", invalid="menu")}
    )
    assert folder.problems() == [
        ("main.json", "hello", None, "no path from this node ever ends the call"),
        ("main.json", "menu", None, "no path from this node ever ends the call"),
    ]


@pytest.mark.parametrize(
    "ending",
    [
        BYE,
        {"type": "voicemail", "prompt": "Leave a message."},
        {"type": "enqueue", "desk": "local", "failed": "bye"},
        {"type": "dial", "to": "+15125550123", "failed": "bye"},
        {"type": "survey", "prompt": "Rate us."},
    ],
)
def test_desks_dials_voicemail_surveys_and_hangups_end_a_call(folder: Folder, ending: dict[str, Any]) -> None:
    folder.flow(
        {"hello": say("Hi.", next="end"), "end": ending} | ({"bye": BYE} if "failed" in ending else {})
    )
    bundle, problems = folder.load()
    assert problems == []


def test_a_loop_without_caller_input(folder: Folder) -> None:
    folder.flow(
        {
            "check": branch({"var": "caller", "starts_with": "+44"}, next="bye", otherwise="wait"),
            "wait": say("Please wait.", next="check"),
            "bye": BYE,
        }
    )
    assert folder.problems() == [
        ("main.json", "check", None, "loop with no caller input: check -> wait -> check")
    ]


def test_a_loop_closed_by_several_branches_is_reported_once(folder: Folder) -> None:
    folder.flow(
        {
            "hold": say("Please wait.", next="recheck"),
            "recheck": {
                "type": "branch",
                "rules": [
                    {"if": {"var": "caller", "starts_with": "+44"}, "next": "bye"},
                    {"if": {"var": "caller", "starts_with": "+1"}, "next": "hold"},
                ],
                "else": "hold",
            },
            "bye": BYE,
        }
    )
    assert folder.problems() == [
        ("main.json", "hold", None, "loop with no caller input: hold -> recheck -> hold")
    ]


def test_a_loop_without_caller_input_across_two_flows(folder: Folder) -> None:
    folder.flow({"hello": say("Hi.", next="jump"), "jump": {"type": "goto", "flow": "other"}})
    folder.flow(
        {
            "check": branch({"var": "caller", "starts_with": "+44"}, next="bye", otherwise="back"),
            "back": {"type": "goto", "flow": "main"},
            "bye": BYE,
        },
        name="other",
    )
    assert folder.problems() == [
        ("main.json", "hello", None, "loop with no caller input: hello -> jump -> check -> back -> hello")
    ]


def test_a_loop_through_a_menu_waits_for_the_caller(folder: Folder) -> None:
    folder.flow(
        {"menu": menu({"1": "bye"}, invalid="sorry"), "sorry": say("Sorry.", next="menu"), "bye": BYE}
    )
    assert folder.load()[1] == []


def test_two_flows_may_go_to_each_other_through_a_menu(folder: Folder) -> None:
    folder.flow({"menu": menu({"1": "jump"}), "jump": {"type": "goto", "flow": "other"}, "bye": BYE})
    folder.flow({"hello": say("Other.", next="back"), "back": {"type": "goto", "flow": "main"}}, name="other")
    assert folder.load()[1] == []


class TestVariables:
    def test_a_variable_set_on_only_some_paths(self, folder: Folder) -> None:
        folder.flow(
            {
                "menu": menu({"1": "ask", "2": "confirm"}),
                "ask": gather(next="confirm"),
                "confirm": say({"en": "Account {account}.", "es": "Cuenta {account:digits}."}),
                "bye": BYE,
            },
            languages={"en": {"code": "en-US"}, "es": {"code": "es-US"}},
        )
        assert folder.problems() == [("main.json", "confirm", "prompt", UNSET.format("account"))]

    def test_a_gathered_variable_is_set_after_the_gather(self, folder: Folder) -> None:
        folder.flow({"ask": gather(next="confirm"), "confirm": say("Account {account:digits}."), "bye": BYE})
        assert folder.load()[1] == []

    def test_a_gathered_variable_is_not_set_on_the_timeout_branch(self, folder: Folder) -> None:
        folder.flow({"ask": gather(timeout="sorry"), "sorry": say("No account {account}."), "bye": BYE})
        assert folder.problems() == [("main.json", "sorry", "prompt", UNSET.format("account"))]

    def test_menu_options_that_all_set_the_variable(self, folder: Folder) -> None:
        options = {
            "1": {"next": "say", "set": {"topic": "billing"}},
            "2": {"next": "say", "set": {"topic": "tech"}},
        }
        folder.flow({"menu": menu(options), "say": say("About {topic}."), "bye": BYE})
        assert folder.load()[1] == []

    def test_a_menu_option_that_does_not_set_the_variable(self, folder: Folder) -> None:
        options = {"1": {"next": "say", "set": {"topic": "billing"}}, "2": "say"}
        folder.flow({"menu": menu(options), "say": say("About {topic}."), "bye": BYE})
        assert folder.problems() == [("main.json", "say", "prompt", UNSET.format("topic"))]

    def test_a_route_sets_the_desk_for_the_queue(self, folder: Folder) -> None:
        folder.flow(
            {
                "route": {"type": "route", "desk": "bpo", "next": "queue"},
                "queue": {"type": "enqueue", "failed": "bye"},
                "bye": BYE,
            }
        )
        assert folder.load()[1] == []

    def test_a_queue_without_a_desk_or_a_route(self, folder: Folder) -> None:
        folder.flow({"queue": {"type": "enqueue", "failed": "bye"}, "bye": BYE})
        assert folder.problems() == [("main.json", "queue", "desk", UNSET.format("desk"))]

    @pytest.mark.parametrize(
        ("node", "field"),
        [
            ({"type": "set", "values": {"greeting": "Hi {name}"}, "next": "bye"}, "values.greeting"),
            (menu({"1": {"next": "bye", "set": {"who": "{name}"}}}), "options.1.set.who"),
            (menu({"1": "bye"}, retry_prompt=["Again,", "{name}."]), "retry_prompt"),
            (
                branch({"all": [{"var": "caller", "is_set": True}, {"not": {"var": "name", "equals": "x"}}]}),
                "rules[0].if",
            ),
            (
                {"type": "enqueue", "desk": "local", "hold": {"en": "Hold on, {name}."}, "failed": "bye"},
                "hold",
            ),
            ({"type": "survey", "prompt": "Rate us.", "thanks": "Thanks {name}.", "next": "bye"}, "thanks"),
            ({"type": "voicemail", "prompt": "Leave a message for {name}.", "next": "bye"}, "prompt"),
            ({"type": "say", "prompt": {"en": "Bye {name}."}, "next": "bye"}, "prompt"),
        ],
    )
    def test_every_place_a_variable_is_read_is_checked(
        self, folder: Folder, node: dict[str, Any], field: str
    ) -> None:
        folder.flow({"node": node, "bye": BYE})
        assert folder.problems() == [("main.json", "node", field, UNSET.format("name"))]

    def test_call_facts_and_is_set_tests_need_no_variable(self, folder: Folder) -> None:
        folder.flow(
            {
                "check": branch({"var": "account", "is_set": True}, next="bye", otherwise="hello"),
                "hello": say("{caller} called {called} ({call_sid}) in {lang}."),
                "bye": BYE,
            }
        )
        assert folder.load()[1] == []

    def test_a_flow_reached_only_by_goto_inherits_the_callers_variables(self, folder: Folder) -> None:
        folder.flow({"ask": gather(next="jump"), "jump": {"type": "goto", "flow": "orders"}, "bye": BYE})
        folder.flow({"confirm": say("Order for account {account}."), "bye": BYE}, name="orders")
        assert folder.load()[1] == []

    def test_a_flow_that_also_answers_calls_does_not_inherit_them(self, folder: Folder) -> None:
        folder.flow({"ask": gather(next="jump"), "jump": {"type": "goto", "flow": "orders"}, "bye": BYE})
        folder.flow(
            {"confirm": say("Order for account {account}."), "bye": BYE},
            name="orders",
            numbers=["+15125550177"],
        )
        assert folder.problems() == [("orders.json", "confirm", "prompt", UNSET.format("account"))]

    def test_a_variable_reached_by_goto_on_one_path_only(self, folder: Folder) -> None:
        folder.flow(
            {
                "menu": menu({"1": "ask", "2": "jump"}),
                "ask": gather(next="jump"),
                "jump": {"type": "goto", "flow": "orders"},
                "bye": BYE,
            }
        )
        folder.flow({"confirm": say("Order for account {account}."), "bye": BYE}, name="orders")
        assert folder.problems() == [("orders.json", "confirm", "prompt", UNSET.format("account"))]


class TestPrompts:
    @pytest.mark.parametrize(
        ("prompt", "field"),
        [
            ("   ", "prompt"),
            (["Hello.", " "], "prompt[1]"),
            ({"en": "Hello.", "es": "\t"}, "prompt.es"),
            ([{"pause": 1}, {"en": " ", "es": "Hola."}], "prompt[1].en"),
        ],
    )
    def test_an_empty_prompt(self, folder: Folder, prompt: Any, field: str) -> None:
        folder.flow(
            {"hello": say(prompt), "bye": BYE}, languages={"en": {"code": "en-US"}, "es": {"code": "es-US"}}
        )
        assert folder.problems() == [("main.json", "hello", field, "prompt is empty")]

    @pytest.mark.parametrize(
        ("prompt", "field"), [({"es": "Hola."}, "prompt"), (["Hi.", {"es": "Hola."}], "prompt[1]")]
    )
    def test_text_missing_in_the_default_language(self, folder: Folder, prompt: Any, field: str) -> None:
        folder.flow(
            {"hello": say(prompt), "bye": BYE}, languages={"en": {"code": "en-US"}, "es": {"code": "es-US"}}
        )
        assert folder.problems() == [
            ("main.json", "hello", field, "no text in the flow's default language 'en'")
        ]

    @pytest.mark.parametrize(
        ("prompt", "field"),
        [
            ({"en": "Hello.", "fr": "Bonjour."}, "prompt.fr"),
            (["Hello.", {"text": "Bonjour.", "language": "fr"}], "prompt[1].fr"),
        ],
    )
    def test_a_language_the_flow_does_not_declare(self, folder: Folder, prompt: Any, field: str) -> None:
        folder.flow({"hello": say(prompt), "bye": BYE})
        assert folder.problems() == [
            (
                "main.json",
                "hello",
                field,
                "language 'fr' is not declared in the flow's languages (declared: en)",
            )
        ]

    def test_audio_and_pauses_are_not_text(self, folder: Folder) -> None:
        folder.flow({"hello": say([{"play": "https://example.com/a.mp3"}, {"pause": 2}, "Hi."]), "bye": BYE})
        assert folder.load()[1] == []

    def test_the_default_language_must_be_declared(self, folder: Folder) -> None:
        folder.flow(
            {"hello": say("Hi."), "bye": BYE}, languages={"en": {"code": "en-US"}}, default_language="fr"
        )
        assert folder.problems() == [
            ("main.json", None, "default_language", "'fr' is not one of the flow's languages")
        ]


class TestReferences:
    def test_an_unknown_schedule(self, folder: Folder) -> None:
        folder.flow(
            {"check": {"type": "hours", "schedule": "night", "open": "bye", "closed": "bye"}, "bye": BYE}
        )
        assert folder.problems() == [
            ("main.json", "check", "schedule", "unknown schedule 'night' (schedules: support)")
        ]

    def test_a_site_without_schedules(self, folder: Folder) -> None:
        del folder.site["schedules"]
        folder.flow(
            {"check": {"type": "hours", "schedule": "support", "open": "bye", "closed": "bye"}, "bye": BYE}
        )
        assert folder.problems() == [
            ("main.json", "check", "schedule", "unknown schedule 'support' (no schedules)")
        ]

    @pytest.mark.parametrize(
        "node",
        [
            {"type": "route", "desk": "sales", "next": "bye"},
            {"type": "enqueue", "desk": "sales", "failed": "bye"},
        ],
    )
    def test_an_unknown_desk(self, folder: Folder, node: dict[str, Any]) -> None:
        folder.flow({"node": node, "bye": BYE})
        assert folder.problems() == [
            ("main.json", "node", "desk", "unknown desk 'sales' (desks: bpo, local, phone)")
        ]

    def test_an_unknown_fallback_desk(self, folder: Folder) -> None:
        folder.site["fallback"]["desk"] = "sales"
        folder.flow({"hello": say("Hi."), "bye": BYE})
        assert folder.problems() == [
            ("site.json", None, "fallback.desk", "unknown desk 'sales' (desks: bpo, local, phone)")
        ]

    def test_a_fallback_without_a_desk(self, folder: Folder) -> None:
        folder.site["fallback"] = {"prompt": "Sorry.", "voicemail": True}
        folder.flow({"hello": say("Hi."), "bye": BYE})
        assert folder.load()[1] == []

    def test_an_unknown_goto_flow(self, folder: Folder) -> None:
        folder.flow({"hello": say("Hi.", next="jump"), "jump": {"type": "goto", "flow": "sales"}})
        assert folder.problems() == [("main.json", "jump", "flow", "unknown flow 'sales' (flows: main)")]

    def test_a_goto_to_a_flow_whose_start_is_missing(self, folder: Folder) -> None:
        folder.flow({"jump": {"type": "goto", "flow": "sales"}})
        folder.flow({"bye": BYE}, name="sales", start="welcome")
        assert ("sales.json", None, "start", "start node 'welcome' does not exist") in folder.problems()

    @pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "", "../etc/passwd"])
    def test_an_unknown_schedule_time_zone(self, folder: Folder, zone: str) -> None:
        folder.site["schedules"]["support"]["timezone"] = zone or "Nowhere"
        folder.flow({"hello": say("Hi."), "bye": BYE})
        assert folder.problems() == [
            (
                "site.json",
                None,
                "schedules.support.timezone",
                f"unknown time zone {zone or 'Nowhere'!r}{ZONE_HINT}",
            )
        ]

    @pytest.mark.parametrize(
        ("cond", "field"),
        [
            ({"time": {"timezone": "Mars/Olympus"}}, "rules[0].if.time.timezone"),
            (
                {"not": {"time": {"timezone": "Mars/Olympus", "from": "09:00"}}},
                "rules[0].if.not.time.timezone",
            ),
            (
                {"any": [{"var": "caller", "is_set": True}, {"time": {"timezone": "Mars/Olympus"}}]},
                "rules[0].if.any[1].time.timezone",
            ),
        ],
    )
    def test_an_unknown_time_zone_in_a_condition(
        self, folder: Folder, cond: dict[str, Any], field: str
    ) -> None:
        folder.flow({"check": branch(cond), "bye": BYE})
        assert folder.problems() == [
            ("main.json", "check", field, f"unknown time zone 'Mars/Olympus'{ZONE_HINT}")
        ]

    def test_an_empty_time_zone_in_a_condition(self, folder: Folder) -> None:
        folder.flow({"check": branch({"time": {"timezone": ""}}), "bye": BYE})
        assert folder.problems() == [
            ("main.json", "check", "rules[0].if.time.timezone", f"unknown time zone ''{ZONE_HINT}")
        ]

    @pytest.mark.parametrize(
        ("cond", "field"),
        [
            ({"var": "caller"}, "rules[0].if"),
            ({"all": [{"var": "caller", "starts_with": "+1"}, {"var": "called"}]}, "rules[0].if.all[1]"),
        ],
    )
    def test_a_variable_test_without_a_comparison(
        self, folder: Folder, cond: dict[str, Any], field: str
    ) -> None:
        folder.flow({"check": branch(cond), "bye": BYE})
        assert folder.problems() == [
            ("main.json", "check", field, "a variable test needs a comparison (equals, matches, is_set...)")
        ]

    def test_max_wait_without_a_timeout_branch(self, folder: Folder) -> None:
        folder.flow(
            {"queue": {"type": "enqueue", "desk": "local", "max_wait": 300, "failed": "bye"}, "bye": BYE}
        )
        assert folder.problems() == [
            (
                "main.json",
                "queue",
                "timeout",
                "max_wait is set, so name the node for callers who waited too long",
            )
        ]

    def test_the_start_node_must_exist(self, folder: Folder) -> None:
        folder.flow({"hello": say("Hi."), "bye": BYE}, start="welcome")
        problems = folder.problems()
        assert problems[0] == ("main.json", None, "start", "start node 'welcome' does not exist")


class TestNumbers:
    def test_a_number_answered_by_two_flows(self, folder: Folder) -> None:
        folder.flow({"bye": BYE}, numbers=["+15125550100", "+15125550101"])
        folder.flow({"bye": BYE}, name="sales", numbers=["+15125550101"])
        assert folder.problems() == [
            ("sales.json", None, "numbers", "+15125550101 is already answered by flow 'main'")
        ]

    def test_two_default_flows(self, folder: Folder) -> None:
        folder.flow({"bye": BYE})
        folder.flow({"bye": BYE}, name="sales", default=True)
        assert folder.problems() == [("sales.json", None, "default", "flow 'main' is already the default")]

    def test_no_default_flow(self, folder: Folder) -> None:
        folder.flow({"bye": BYE}, name="sales", numbers=["+15125550101"])
        folder.flow({"bye": BYE}, name="billing", numbers=["+15125550102"], default=False)
        assert folder.problems() == [
            ("billing.json", None, "default", 'no flow is marked "default": true; unknown numbers need one')
        ]


def test_every_problem_is_reported_at_once(folder: Folder) -> None:
    folder.site["schedules"]["support"]["timezone"] = "Mars/Olympus"
    folder.flow(
        {
            "hello": say({"es": "Hola {name}."}, next="menu"),
            "menu": menu({"1": "nowhere", "2": "queue"}),
            "queue": {"type": "enqueue", "desk": "sales", "max_wait": 60, "failed": "bye"},
            "bye": BYE,
            "orphan": {"type": "hours", "schedule": "night", "open": "bye", "closed": "bye"},
        },
        languages={"en": {"code": "en-US"}, "es": {"code": "es-US"}},
    )
    folder.flow({"jump": {"type": "goto", "flow": "sales"}}, name="other", numbers=["+15125550100"])
    folder.write("broken.json", "{")
    assert folder.problems() == [
        (
            "broken.json",
            None,
            None,
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        ("main.json", "hello", "prompt", "no text in the flow's default language 'en'"),
        ("main.json", "hello", "prompt", UNSET.format("name")),
        ("main.json", "menu", "options.1", "target node 'nowhere' does not exist"),
        ("main.json", "orphan", None, "node is unreachable from the start node 'hello'"),
        ("main.json", "orphan", "schedule", "unknown schedule 'night' (schedules: support)"),
        ("main.json", "queue", "desk", "unknown desk 'sales' (desks: bpo, local, phone)"),
        (
            "main.json",
            "queue",
            "timeout",
            "max_wait is set, so name the node for callers who waited too long",
        ),
        ("other.json", "jump", "flow", "unknown flow 'sales' (flows: main, other)"),
        ("site.json", None, "schedules.support.timezone", f"unknown time zone 'Mars/Olympus'{ZONE_HINT}"),
    ]


def test_problems_read_as_file_node_field_and_message() -> None:
    problem = Problem("flows/main.json", "menu", "options.1", "target node 'x' does not exist")
    assert str(problem) == "flows/main.json: node 'menu': field 'options.1': target node 'x' does not exist"
    assert str(Problem("flows/site.json", None, None, "file not found")) == "flows/site.json: file not found"
    assert problem.as_dict() == {
        "file": "flows/main.json",
        "node": "menu",
        "field": "options.1",
        "message": "target node 'x' does not exist",
        "severity": "error",
    }


def test_redialling_or_requeueing_without_caller_input_is_a_loop(folder: Folder) -> None:
    folder.flow(
        {
            "call": {"type": "dial", "to": "+15125550111", "failed": "sorry"},
            "sorry": say("Trying again.", next="call"),
            "queue": {"type": "enqueue", "desk": "local", "failed": "full"},
            "full": say("Still full.", next="queue"),
            "bye": BYE,
        }
    )
    loops = [p for p in folder.problems() if p[3].startswith("loop")]
    assert loops == [
        ("main.json", "call", None, "loop with no caller input: call -> sorry -> call"),
        ("main.json", "full", None, "loop with no caller input: full -> queue -> full"),
    ]


def test_transcription_is_limited_to_two_minutes(folder: Folder) -> None:
    long = {"type": "voicemail", "prompt": "Speak.", "max_length": 300, "transcribe": True}
    folder.flow({"hello": say("Hi.", next="vm"), "vm": long, "bye": BYE}, start="hello")
    problems = folder.problems()
    assert (
        "main.json",
        "vm",
        "max_length",
        "Twilio transcribes recordings of at most 120 s: lower max_length",
    ) in problems


def test_placeholders_in_audio_urls_are_checked(folder: Folder) -> None:
    folder.flow({"hello": say({"play": "https://cdn.example/{greeting}.mp3"}), "bye": BYE})
    assert folder.problems() == [("main.json", "hello", "prompt", UNSET.format("greeting"))]


def test_an_empty_fallback_prompt_is_reported(folder: Folder) -> None:
    folder.site["fallback"]["prompt"] = "   "
    folder.flow({"hello": say("Hi."), "bye": BYE})
    assert folder.problems() == [("site.json", None, "fallback.prompt", "prompt is empty")]


class TestSuggestions:
    """A mistyped name gets the nearest known one; an unknown desk or schedule lists the known ones."""

    def test_a_mistyped_target_node(self, folder: Folder) -> None:
        folder.flow({"hello": say("Hi.", next="to_suport"), "to_support": BYE})
        message = "target node 'to_suport' does not exist: did you mean 'to_support'?"
        assert ("main.json", "hello", "next", message) in folder.problems()

    def test_a_mistyped_start_node(self, folder: Folder) -> None:
        folder.flow({"hello": say("Hi."), "bye": BYE}, start="helo")
        assert ("main.json", None, "start", "start node 'helo' does not exist: did you mean 'hello'?") in (
            folder.problems()
        )

    def test_a_mistyped_desk(self, folder: Folder) -> None:
        folder.flow({"node": {"type": "route", "desk": "lcoal", "next": "bye"}, "bye": BYE})
        message = "unknown desk 'lcoal': did you mean 'local'? (desks: bpo, local, phone)"
        assert folder.problems() == [("main.json", "node", "desk", message)]

    def test_a_mistyped_schedule(self, folder: Folder) -> None:
        folder.flow(
            {"check": {"type": "hours", "schedule": "suport", "open": "bye", "closed": "bye"}, "bye": BYE}
        )
        message = "unknown schedule 'suport': did you mean 'support'? (schedules: support)"
        assert folder.problems() == [("main.json", "check", "schedule", message)]

    def test_a_mistyped_flow(self, folder: Folder) -> None:
        folder.flow({"hello": say("Hi.", next="jump"), "jump": {"type": "goto", "flow": "sale"}})
        folder.flow({"bye": BYE}, name="sales")
        message = "unknown flow 'sale': did you mean 'sales'? (flows: main, sales)"
        assert ("main.json", "jump", "flow", message) in folder.problems()

    def test_a_mistyped_default_language(self, folder: Folder) -> None:
        languages = {"en": {"code": "en-US"}, "es": {"code": "es-US"}}
        folder.flow({"hello": say("Hi."), "bye": BYE}, languages=languages, default_language="esp")
        message = "'esp' is not one of the flow's languages: did you mean 'es'?"
        assert ("main.json", None, "default_language", message) in folder.problems()

    def test_a_mistyped_time_zone(self, folder: Folder) -> None:
        folder.site["schedules"]["support"]["timezone"] = "America/Chicgo"
        folder.flow({"hello": say("Hi."), "bye": BYE})
        message = "unknown time zone 'America/Chicgo': did you mean 'America/Chicago'?"
        assert folder.problems() == [("site.json", None, "schedules.support.timezone", message)]

    def test_a_site_without_desks_to_suggest(self, folder: Folder) -> None:
        folder.site["desks"] = {"local": folder.site["desks"]["local"] | {"failover": "bpo"}}
        folder.site["fallback"] = {"prompt": "Sorry.", "voicemail": True}
        folder.flow({"hello": say("Hi."), "bye": BYE})
        message = "unknown desk 'bpo' (no other desks)"
        assert folder.problems() == [("site.json", None, "desks.local.failover", message)]
