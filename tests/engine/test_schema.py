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
CLOCK = "'^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$'"


@pytest.mark.parametrize(
    ("node", "field", "message"),
    [
        (
            {"type": "speak"},
            "type",
            "'speak' is not one of ['say', 'menu', 'gather', 'branch', 'set', 'hours', "
            "'route', 'enqueue', 'dial', 'voicemail', 'survey', 'goto', 'hangup', 'opt_out']",
        ),
        ({"type": "say", "prompt": "Hi."}, None, "'next' is a required property"),
        (SAY | {"nxt": "bye"}, None, "Additional properties are not allowed ('nxt' was unexpected)"),
        (SAY | {"next": "2nd"}, "next", "'2nd' does not match '^[A-Za-z][A-Za-z0-9_-]{0,63}$'"),
        (SAY | {"prompt": {"en": ""}}, "prompt.en", "'' should be non-empty"),
        (SAY | {"prompt": ""}, "prompt", "'' should be non-empty"),
        (
            SAY | {"prompt": ["Hi.", {"play": "ftp://example.com/a.mp3"}]},
            "prompt[1].play",
            "'ftp://example.com/a.mp3' does not match '^(https?://|/).+'",
        ),
        (SAY | {"prompt": [{"pause": 0}]}, "prompt[0].pause", "0 is less than the minimum of 1"),
        (
            SAY | {"prompt": [{"text": "Hola."}]},
            "prompt[0]",
            "{'text': 'Hola.'} is not valid under any of the given schemas",
        ),
        (MENU | {"options": {"12": "bye"}}, "options", "'12' does not match '^[0-9*#]$'"),
        (
            MENU | {"options": {"1": {"nxt": "bye"}}},
            "options.1",
            "{'nxt': 'bye'} is not valid under any of the given schemas",
        ),
        (MENU | {"retries": 9}, "retries", "9 is greater than the maximum of 5"),
        (MENU | {"input": "voice"}, "input", "'voice' is not one of ['dtmf', 'speech', 'dtmf speech']"),
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
            "'([0-9]+' is not a 'regex'",
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
            "'[0-9' is not a 'regex'",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"var": "n", "less_than": "5"}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if.less_than",
            "'5' is not of type 'number'",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"time": {"timezone": "UTC", "from": "25:00"}}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if.time.from",
            f"'25:00' does not match {CLOCK}",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": {"var": "n", "equals": "1", "time": {"timezone": "UTC"}}, "next": "bye"}],
                "else": "bye",
            },
            "rules[0].if",
            "{'var': 'n', 'equals': '1', 'time': {'timezone': 'UTC'}} is not valid under any of the "
            "given schemas",
        ),
        (
            {"type": "dial", "to": "5125550123", "failed": "bye"},
            "to",
            "'5125550123' does not match '^(\\\\+[1-9][0-9]{6,14}|sips?:.+)$'",
        ),
        (
            {"type": "enqueue", "desk": "local", "max_wait": 5, "next": "bye", "failed": "bye"},
            "max_wait",
            "5 is less than the minimum of 10",
        ),
        (ROUTE | {"segment": ""}, "segment", "'' should be non-empty"),
        (ROUTE | {"segment": "b" * 65}, "segment", f"'{'b' * 65}' is too long"),
        (ROUTE | {"segment": 7}, "segment", "7 is not of type 'string'"),
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
        ({"name": None}, None, "'name' is a required property"),
        ({"colour": "red"}, None, "Additional properties are not allowed ('colour' was unexpected)"),
        ({"numbers": ["5125550100"]}, "numbers[0]", "'5125550100' does not match '^\\\\+[1-9][0-9]{6,14}$'"),
        (
            {"languages": {"en": {"code": "english"}}},
            "languages.en.code",
            "'english' does not match '^[a-z]{2,3}-[A-Z]{2}$'",
        ),
        ({"nodes": {}}, "nodes", "{} should be non-empty"),
        ({"nodes": {"my node": BYE}}, "nodes", "'my node' does not match '^[A-Za-z][A-Za-z0-9_-]{0,63}$'"),
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
            "{'label': 'A'} is not valid under any of the given schemas",
        ),
        (
            {"desks": {"a": {"label": "A", "dial": "5551234"}}},
            "desks.a.dial",
            "'5551234' does not match '^(\\\\+[1-9][0-9]{6,14}|sips?:.+)$'",
        ),
        ({"desks": {}}, "desks", "{} should be non-empty"),
        ({"fallback": None}, None, "'fallback' is a required property"),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {}, "holidays": ["2026-02-30"]}}},
            "schedules.s.holidays[0]",
            "'2026-02-30' is not a 'date'",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"mon": [["8:00", "18:00"]]}}}},
            "schedules.s.hours.mon[0][0]",
            f"'8:00' does not match {CLOCK}",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"mon": [["08:00"]]}}}},
            "schedules.s.hours.mon[0]",
            "['08:00'] is too short",
        ),
        (
            {"schedules": {"s": {"timezone": "UTC", "hours": {"monday": []}}}},
            "schedules.s.hours",
            "Additional properties are not allowed ('monday' was unexpected)",
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
