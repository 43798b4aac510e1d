"""Schema errors, through load_folder: each names the file, the node (for node errors) and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .folders import BYE, Folder


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def single(node: dict[str, Any]) -> dict[str, Any]:
    return {"node": node, "bye": BYE}


SAY = {"type": "say", "prompt": "Hi.", "next": "bye"}
QUEUE = {"type": "enqueue", "next": "bye", "failed": "bye"}
MENU = {"type": "menu", "prompt": "Choose.", "options": {"1": "bye"}, "timeout": "bye", "invalid": "bye"}
ROUTE = {"type": "route", "desk": "local", "next": "bye"}
CLOCK = "is not a time of day as HH:MM (00:00 to 24:00)"


@pytest.mark.parametrize(
    ("node", "field", "message"),
    [
        (
            {"type": "speak"},
            "type",
            "'speak' is not one of 'say', 'menu', 'gather', 'branch', 'set', 'hours', "
            "'route', 'enqueue', 'dial', 'voicemail', 'survey', 'goto', 'hangup', 'opt_out'",
        ),
        ({"type": "say", "prompt": "Hi."}, None, "field 'next' is required"),
        (SAY | {"nxt": "bye"}, None, "unknown field 'nxt': did you mean 'next'?"),
        (
            SAY | {"next": "2nd"},
            "next",
            "'2nd' is not a name: a letter, then letters, digits, '_' or '-' (64 at most)",
        ),
        (SAY | {"prompt": {"en": ""}}, "prompt.en", "must not be empty"),
        (SAY | {"prompt": ""}, "prompt", "must not be empty"),
        (
            SAY | {"prompt": ["Hi.", {"play": "ftp://example.com/a.mp3"}]},
            "prompt[1].play",
            "'ftp://example.com/a.mp3' is not an audio URL: it starts with https://, http:// or /",
        ),
        (SAY | {"prompt": [{"pause": 0}]}, "prompt[0].pause", "must be at least 1, not 0"),
        (
            SAY | {"prompt": [{"text": "Hola."}]},
            "prompt[0]",
            "field 'language' is required",
        ),
        (MENU | {"options": {"12": "bye"}}, "options", "'12' is not a key: one of 0 to 9, * or #"),
        (
            MENU | {"options": {"1": {"nxt": "bye"}}},
            "options.1",
            "field 'next' is required; unknown field 'nxt': did you mean 'next'?",
        ),
        (MENU | {"retries": 9}, "retries", "must be at most 5, not 9"),
        (MENU | {"input": "voice"}, "input", "'voice' is not one of 'dtmf', 'speech', 'dtmf speech'"),
        (
            {
                "type": "gather",
                "prompt": "Digits?",
                "variable": "account",
                "pattern": "([0-9]+",
                "next": "bye",
                "timeout": "bye",
                "invalid": "bye",
            },
            "pattern",
            "'([0-9]+' is not a valid regular expression",
        ),
        (
            {
                "type": "branch",
                "rules": [
                    {
                        "if": {
                            "any": [{"var": "caller", "is_set": True}, {"var": "account", "matches": "[0-9"}]
                        },
                        "next": "bye",
                    }
                ],
                "else": "bye",
            },
            "rules[0].if.any[1].matches",
            "'[0-9' is not a valid regular expression",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"var": "n", "less_than": "5"}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if.less_than",
            "must be a number, not '5'",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"time": {"timezone": "UTC", "from": "25:00"}}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if.time.from",
            f"'25:00' {CLOCK}",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"var": "n", "equals": "1", "time": {"timezone": "UTC"}}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if",
            "fits none of the forms this field can take (see the schema)",
        ),
        (
            {"type": "dial", "to": "5125550123", "failed": "bye"},
            "to",
            "'5125550123' is not an E.164 number (like '+15125550100') or a sip: address",
        ),
        (
            {"type": "enqueue", "desk": "local", "max_wait": 5, "next": "bye", "failed": "bye"},
            "max_wait",
            "must be at least 10, not 5",
        ),
        (ROUTE | {"segment": ""}, "segment", "must not be empty"),
        (ROUTE | {"segment": "b" * 65}, "segment", "must be at most 64 characters long"),
        (ROUTE | {"segment": 7}, "segment", "must be text, not 7"),
        (
            ROUTE | {"segment": "billing "},
            "segment",
            "'billing ' has a leading or trailing space or a control character",
        ),
        (
            ROUTE | {"segment": "bill\ting"},
            "segment",
            "'bill\\ting' has a leading or trailing space or a control character",
        ),
    ],
)
def test_a_node_error(folder: Folder, node: dict[str, Any], field: str | None, message: str) -> None:
    folder.flow(single(node))
    assert folder.problems() == [("main.json", "node", field, message)]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": None}, None, "field 'name' is required"),
        ({"colour": "red"}, None, "unknown field 'colour'"),
        (
            {"numbers": ["5125550100"]},
            "numbers[0]",
            "'5125550100' is not a phone number in E.164 form, like '+15125550100'",
        ),
        (
            {"languages": {"en": {"code": "english"}}},
            "languages.en.code",
            "'english' is not a language code like 'en-US'",
        ),
        ({"nodes": {}}, "nodes", "must not be empty"),
        (
            {"nodes": {"my node": BYE}},
            "nodes",
            "'my node' is not a name: a letter, then letters, digits, '_' or '-' (64 at most)",
        ),
    ],
)
def test_a_flow_error(folder: Folder, fields: dict[str, Any], field: str | None, message: str) -> None:
    doc = {"name": "main", "default": True, "start": "node", "nodes": single(SAY)} | fields
    folder.write("main.json", {key: value for key, value in doc.items() if value is not None})
    assert folder.problems() == [("main.json", None, field, message)]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"desks": {"a": {"label": "A"}}},
            "desks.a",
            "needs one of the fields 'queue', 'dial'",
        ),
        (
            {"desks": {"a": {"label": "A", "dial": "5551234"}}},
            "desks.a.dial",
            "'5551234' is not an E.164 number (like '+15125550100') or a sip: address",
        ),
        ({"desks": {}}, "desks", "must not be empty"),
        ({"fallback": None}, None, "field 'fallback' is required"),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {}, "holidays": ["2026-02-30"]}}},
            "schedules.s.holidays[0]",
            "'2026-02-30' is not a date as YYYY-MM-DD",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"mon": [["8:00", "18:00"]]}}}},
            "schedules.s.hours.mon[0][0]",
            f"'8:00' {CLOCK}",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"mon": [["08:00"]]}}}},
            "schedules.s.hours.mon[0]",
            "needs at least 2 items",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"monday": []}}}},
            "schedules.s.hours",
            "unknown field 'monday': did you mean 'mon'?",
        ),
    ],
)
def test_a_site_error(folder: Folder, change: dict[str, Any], field: str | None, message: str) -> None:
    folder.site = {k: v for k, v in (folder.site | change).items() if v is not None}
    folder.flow({"hello": SAY, "bye": BYE})
    assert folder.problems() == [("site.json", None, field, message)]


def test_schema_errors_in_several_files_are_all_reported(folder: Folder) -> None:
    folder.site["desks"]["local"] = {"label": ""}
    folder.flow(single(SAY | {"prompt": {"en": ""}}))
    folder.flow(single({"type": "hangup", "colour": "red"}), name="other")
    found = folder.problems()
    assert [(file, node, field) for file, node, field, _message in found] == [
        ("main.json", "node", "prompt.en"),
        ("other.json", "node", None),
        ("site.json", None, "desks.local"),  # neither a queue nor a dial target
        ("site.json", None, "desks.local.label"),
    ]


@pytest.mark.parametrize("segment", ["billing", "Facturación (es)", "language:2 > main_menu:1", "b" * 64])
def test_a_route_may_name_its_segment(folder: Folder, segment: str) -> None:
    folder.flow({"route": ROUTE | {"next": "queue", "segment": segment}, "queue": QUEUE, "bye": BYE})
    bundle, problems = folder.load()
    assert problems == []
    assert bundle is not None


@pytest.mark.parametrize(
    ("node", "field", "message"),
    [
        (SAY | {"next": {"to": "bye"}}, "next", "must be text, not an object"),
        (SAY | {"next": ["bye"]}, "next", "must be text, not a list"),
        (MENU | {"retries": True}, "retries", "must be a whole number, not true"),
        ({"type": "sya", "prompt": "Hi.", "next": "bye"}, "type", None),
        (
            {"type": "route", "strategy": "schedule", "desks": ["local", "local"], "next": "bye"},
            "desks",
            "lists the same item twice",
        ),
        (
            {"type": "branch", "rules": [{"if": {"not": {"var": "x", "is_set": True}, "any": []}}]},
            None,
            None,
        ),
    ],
)
def test_schema_errors_are_worded_for_people(
    folder: Folder, node: dict[str, Any], field: str | None, message: str | None
) -> None:
    folder.flow(single(node))
    found = [(f, m) for _file, n, f, m in folder.problems() if n == "node"]
    assert found, folder.problems()
    for _field, text in found:
        assert "{" not in text and "[" not in text, text  # no Python reprs of objects or lists
        assert "is not valid under" not in text and "is a required property" not in text
    if message is not None:
        assert (field, message) in found
    if node["type"] == "sya":
        assert found[0][1].endswith(": did you mean 'say'?")


def test_a_schema_error_in_the_one_form_a_value_was_meant_to_take(folder: Folder) -> None:
    folder.flow(single(SAY | {"prompt": [{"text": "Hola."}]}))
    assert folder.problems() == [("main.json", "node", "prompt[0]", "field 'language' is required")]


def test_an_option_missing_its_next(folder: Folder) -> None:
    folder.flow(single(MENU | {"options": {"1": {"speech": ["one"]}}}))
    assert folder.problems() == [("main.json", "node", "options.1", "field 'next' is required")]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ([["08:00", "12:00", "18:00"]], "takes at most 2 items"),
        ([["08:00"]], "needs at least 2 items"),
    ],
)
def test_opening_hours_are_pairs(folder: Folder, hours: list[Any], message: str) -> None:
    folder.site["schedules"]["support"]["hours"]["mon"] = hours
    folder.flow({"hello": SAY, "bye": BYE})
    assert folder.problems() == [("site.json", None, "schedules.support.hours.mon[0]", message)]


def test_a_value_shown_as_json() -> None:
    from ivr.engine.schema import shown

    assert [shown(v) for v in ("a", 5, 2.5, True, None, {}, [])] == [
        "'a'", "5", "2.5", "true", "null", "an object", "a list"
    ]  # fmt: skip


def test_every_pattern_of_the_schemas_has_words() -> None:
    """A pattern without words would reach people as a regular expression (add it to PATTERNS)."""
    import json
    import re
    from importlib import resources

    from ivr.engine.schema import PATTERNS

    folder = resources.files("ivr") / "schemas"
    found: set[str] = set()
    for name in ("flow.schema.json", "site.schema.json", "profile.schema.json"):
        text = (folder / name).read_text("utf-8")
        worded = set(re.findall(r'"pattern": "((?:[^"\\]|\\.)*)",\s*"patternErrorMessage"', text))
        found |= {json.loads(f'"{p}"') for p in re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', text)} - {
            json.loads(f'"{p}"') for p in worded
        }
    assert found <= set(PATTERNS), found - set(PATTERNS)
