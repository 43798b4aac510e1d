"""Try a draft: a simulated call through the voice webhooks of a throwaway app that serves the draft.

Each try runs against the sample site's documents (texts, as the editor holds them), changed where a test
needs it; the call log it writes lives in the throwaway app's in-memory database (the web tests prove that
the real database never sees it, on both backends).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.engine import FlowError
from ivr.sim.people import Input
from ivr.sim.trial import MAX_INPUTS, Trial, TrialError, read_trial, run_trial
from ivr.voice import flow as voice_flow

from ..conftest import SAMPLE_FLOWS

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Chicago
GREETING = "Thank you for calling Acme Home Supplies. Calls may be recorded for quality."


def sample() -> dict[str, str]:
    """The sample site's documents by file name."""
    return {path.name: path.read_text() for path in SAMPLE_FLOWS.glob("*.json")}


def changed(document: str, change: Any) -> dict[str, str]:
    """The sample documents with one of them edited by `change(data)`."""
    texts = sample()
    data = json.loads(texts[document])
    change(data)
    return texts | {document: json.dumps(data, indent=2)}


def tried(texts: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    """The JSON answer of a try of main.json (or body's document) with these request fields."""
    return run_trial(texts or sample(), read_trial({"document": "main.json"} | body), NOW)


def said(answer: dict[str, Any]) -> list[str]:
    return [e["what"] for e in answer["events"] if e["kind"] == "say"]


def nodes(answer: dict[str, Any]) -> list[str]:
    return [step["node"] for step in answer["path"]]


def test_the_call_stops_where_the_caller_must_answer():
    answer = tried()

    assert said(answer) == [GREETING, "For English, press 1.", "Para español, oprima dos."]
    assert [e["language"] for e in answer["events"] if e["kind"] == "say"] == ["en-US", "en-US", "es-US"]
    assert nodes(answer) == ["greeting", "open_check", "language"]
    assert {"flow": "main", "node": "language"} in answer["path"]
    assert answer["waiting"] == "digits speech"
    assert answer["ended"] is False
    assert answer["events"][-1]["kind"] == "gather"
    assert answer["problems"] == []
    assert (answer["at"], answer["timezone"], answer["to"]) == (
        "2026-11-24T10:00",
        "America/Chicago",
        "+15125550100",
    )


@pytest.mark.parametrize(
    ("inputs", "waiting", "last_node"),
    [
        ([{"digits": "1"}], "digits speech", "main_menu"),
        ([{"speech": "Spanish"}], "digits speech", "main_menu"),
        ([{"digits": "1"}, {"speech": "I want my order status"}], "digits", "order_number"),
        ([{"digits": "1"}, {"digits": "3"}, {"digits": "12#"}], "digits", "order_number"),
    ],
)
def test_key_presses_and_speech_drive_the_menus(inputs, waiting, last_node):
    answer = tried(inputs=inputs)

    assert nodes(answer)[-1] == last_node
    assert answer["waiting"] == waiting
    heard = [e for e in answer["events"] if e["who"] == "caller"]
    assert [e.get("digits") or e.get("speech") for e in heard] == [
        i.get("digits", "").rstrip("#") or i.get("speech") for i in inputs
    ]


def test_a_wrong_account_number_is_asked_again():
    answer = tried(inputs=[{"digits": "1"}, {"digits": "3"}, {"digits": "12#"}])

    assert "That account number was not valid. Account numbers have six to ten digits." in said(answer)


def test_the_caller_reaches_a_desk_and_hears_the_queue_then_the_try_ends():
    answer = tried(inputs=[{"digits": "2"}, {"digits": "3"}, {"digits": "123456#"}])

    assert nodes(answer)[-3:] == ["language_desk", "spanish_desk", "queue"]
    assert answer["ended"] is True and answer["waiting"] is None
    kinds = [e["kind"] for e in answer["events"]]
    assert kinds.index("route") < kinds.index("queue") < len(kinds) - 1
    queue = next(e for e in answer["events"] if e["kind"] == "queue")
    assert queue["desk"] == "bpo" and "no agents" in queue["what"]
    assert said(answer)[-3:] == [
        "Gracias. Cuenta 1 2 3 4 5 6. Le comunicamos con nuestro equipo de pedidos.",
        "Usted es la persona número 1 en la fila.",
        "Todos nuestros agentes están ocupados. Por favor, permanezca en la línea.",
    ]
    assert answer["events"][-1]["kind"] == "play"


@pytest.mark.parametrize(
    ("at", "local", "branch"),
    [
        ("2026-12-07T10:30", "2026-12-07T10:30", "language"),  # a Monday morning in Chicago
        ("2026-12-07T18:30", "2026-12-07T18:30", "after_hours"),
        ("2026-12-07T18:30-06:00", "2026-12-07T18:30", "after_hours"),
        ("2026-12-08T00:30+00:00", "2026-12-07T18:30", "after_hours"),  # the evening before in Chicago
        ("2026-12-25T10:30", "2026-12-25T10:30", "holiday_closed"),
    ],
)
def test_the_hours_node_follows_the_chosen_time(at, local, branch):
    answer = tried(at=at)

    assert nodes(answer)[2] == branch
    assert answer["at"] == local
    hours = next(e for e in answer["events"] if e["kind"] == "hours")
    assert hours["node"] == "open_check"


def test_voicemail_after_hours_records_then_ends_and_says_what_was_not_used():
    answer = tried(at="2026-12-07T22:00", inputs=[{"digits": "1"}])

    assert [e["kind"] for e in answer["events"]][-3:] == ["record", "hangup", "note"]
    assert answer["events"][-1]["what"] == "1 answer was not used: the call ended first"
    assert answer["ended"] is True


def _by_caller(data: dict[str, Any]) -> None:
    data["nodes"]["greeting"]["next"] = "who"
    data["nodes"]["who"] = {
        "type": "branch",
        "rules": [{"if": {"var": "caller", "starts_with": "+44"}, "next": "to_operator"}],
        "else": "open_check",
    }


@pytest.mark.parametrize(
    ("caller", "then"), [("+442071838750", "to_operator"), ("+15125550123", "open_check")]
)
def test_the_callers_number_reaches_branch_conditions(caller, then):
    answer = tried(changed("main.json", _by_caller), **{"from": caller})

    assert nodes(answer)[1:3] == ["who", then]


def test_silence_takes_the_timeout_branch_after_the_retries():
    answer = tried(inputs=[{"silence": True}] * 5)  # language: once and a retry; main_menu: two retries

    assert [e["what"] for e in answer["events"] if e["who"] == "caller"] == ["stays silent"] * 5
    assert nodes(answer)[3:6] == ["main_menu", "to_operator", "language_desk"]
    assert said(answer).count("Sorry, I didn't catch that.") == 2
    assert answer["ended"] is True


def test_a_draft_is_what_the_caller_hears():
    def reword(data: dict[str, Any]) -> None:
        data["nodes"]["greeting"]["prompt"] = "Hello from the draft."

    assert said(tried(changed("main.json", reword)))[0] == "Hello from the draft."


def test_errors_place_no_call_and_warnings_do():
    def broken(data: dict[str, Any]) -> None:
        data["nodes"]["greeting"]["next"] = "nowhere"

    refused = tried(changed("main.json", broken))

    assert refused["events"] == [] and refused["path"] == [] and refused["ended"] is False
    assert {(p["file"], p["node"], p["field"]) for p in refused["problems"]} >= {
        ("main.json", "greeting", "next")
    }

    def orphan(data: dict[str, Any]) -> None:
        data["nodes"]["spare"] = {"type": "hangup"}

    warned = tried(changed("main.json", orphan))

    assert [p["severity"] for p in warned["problems"]] == ["warning"]
    assert warned["waiting"] == "digits speech"


def _sub_flow(texts: dict[str, str]) -> dict[str, str]:
    billing = {
        "name": "billing",
        "start": "hello",
        "nodes": {
            "hello": {"type": "say", "prompt": "Billing here.", "next": "pay"},
            "pay": {"type": "dial", "to": "+15125550111", "next": "bye", "failed": "bye"},
            "bye": {"type": "hangup"},
        },
    }
    main = json.loads(texts["main.json"])
    main["nodes"]["to_billing"] = {"type": "goto", "flow": "billing"}
    return texts | {"billing.json": json.dumps(billing), "main.json": json.dumps(main)}


def test_a_goto_continues_in_the_other_flow_and_a_dial_ends_the_try():
    answer = tried(_sub_flow(sample()), inputs=[{"digits": "1"}, {"digits": "1"}])

    assert answer["path"][-3:] == [
        {"flow": "main", "node": "to_billing"},
        {"flow": "billing", "node": "hello"},
        {"flow": "billing", "node": "pay"},
    ]
    assert [e["kind"] for e in answer["events"]][-3:] == ["goto", "say", "dial"]
    assert answer["events"][-1]["to"] == "+15125550111"
    assert answer["ended"] is True


def test_a_flow_without_numbers_is_tried_by_itself():
    answer = run_trial(_sub_flow(sample()), read_trial({"document": "billing.json"}), NOW)

    assert nodes(answer) == ["hello", "pay"]
    assert answer["to"] == "+15005550006"


def test_the_site_file_tries_the_default_flow():
    assert nodes(run_trial(sample(), read_trial({"document": "site.json"}), NOW))[0] == "greeting"


def test_a_try_without_a_time_starts_now():
    answer = run_trial(sample(), Trial("main.json", inputs=(Input(digits="1"),)), NOW)

    assert answer["at"] == "2026-11-24T10:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object"),
        ({}, "document:"),
        ({"document": 3}, "document:"),
        ({"document": "main.json", "from": "5125550123"}, "from:"),
        ({"document": "main.json", "from": 15125550123}, "from:"),
        ({"document": "main.json", "to": "call me"}, "to:"),
        ({"document": "main.json", "at": "tomorrow"}, "at: 'tomorrow' is not a date and time"),
        ({"document": "main.json", "at": "2026-13-01T10:00"}, "at:"),
        ({"document": "main.json", "at": 20261207}, "at:"),
        ({"document": "main.json", "at": "0001-01-01T00:00"}, "at: choose a year from 1970 to 2199"),
        ({"document": "main.json", "inputs": {"digits": "1"}}, "inputs: a list"),
        ({"document": "main.json", "inputs": [{"digits": "1"}] * (MAX_INPUTS + 1)}, "at most 50 answers"),
        ({"document": "main.json", "inputs": ["1"]}, "inputs[0]: one of"),
        ({"document": "main.json", "inputs": [{"digits": "1", "speech": "x"}]}, "inputs[0]: one of"),
        ({"document": "main.json", "inputs": [{"digits": "1"}, {"digits": "12a"}]}, "inputs[1]: digits are"),
        ({"document": "main.json", "inputs": [{"digits": ""}]}, "inputs[0]: digits are"),
        ({"document": "main.json", "inputs": [{"digits": "1" * 33}]}, "at most 32 keys"),
        ({"document": "main.json", "inputs": [{"speech": "  "}]}, "inputs[0]:"),
        ({"document": "main.json", "inputs": [{"speech": "x" * 201}]}, "at most 200 characters"),
        ({"document": "main.json", "inputs": [{"silence": "yes"}]}, "inputs[0]:"),
        ({"document": "main.json", "inputs": [{"press": "1"}]}, "inputs[0]:"),
    ],
)
def test_what_cannot_be_tried_is_refused_with_a_reason(body, message):
    with pytest.raises(TrialError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_trial(body)


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_fields_take_their_defaults(empty):
    trial = read_trial({"document": "main.json", "from": empty, "to": empty, "at": empty})

    assert (trial.caller, trial.to, trial.at) == ("+15125550123", None, None)


def test_numbers_are_read_as_people_type_them():
    trial = read_trial(
        {"document": "main.json", "from": "+1 (512) 555-0123", "inputs": [{"speech": " a  b "}]}
    )

    assert trial.caller == "+15125550123"
    assert trial.inputs == (Input(speech="a b"),)


def test_tries_at_the_same_time_keep_to_themselves():
    bodies = [{"inputs": [{"digits": d}, {"digits": "2"}]} for d in "1212"] + [{"at": "2026-12-07T22:00"}] * 2
    alone = [tried(**body) for body in bodies]

    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda body: tried(**body), bodies))

    assert together == alone


def test_a_step_that_fails_shows_the_error_then_the_fallback(monkeypatch):
    def fails(*_args: Any) -> None:
        raise FlowError("the engine broke")

    monkeypatch.setattr(voice_flow, "start", fails)

    answer = tried()

    kinds = [e["kind"] for e in answer["events"]]
    assert kinds[:3] == ["error", "say", "queue"]
    assert answer["events"][0]["what"] == "the flow failed: FlowError: the engine broke"
    assert answer["events"][1]["what"].startswith("We are sorry, something went wrong on our side.")
    assert answer["events"][2]["desk"] == "local" and answer["ended"] is True
