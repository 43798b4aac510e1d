"""Campaign settings (each bad value named by its field) and legal state changes (purity: import-linter)."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.campaigns.rules import DEFAULT_RETRY, CampaignError, TransitionError, check_settings, transition

FLOWS = {"main", "reminder"}
DESKS = {"local", "bpo"}
GOOD = {"name": "Dental reminders", "flow": "reminder", "caller_id": "+15125550100"}


def problems(data: dict[str, Any], flows: set[str] | None = FLOWS) -> list[tuple[str, str]]:
    with pytest.raises(CampaignError) as caught:
        check_settings(data, flows, DESKS)
    return caught.value.problems


def test_defaults() -> None:
    settings = check_settings(GOOD, FLOWS, DESKS)
    assert settings.columns() == {
        "name": "Dental reminders",
        "flow": "reminder",
        "caller_id": "+15125550100",
        "desk": None,
        "window_start": "08:00",
        "window_end": "21:00",
        "default_timezone": None,
        "max_attempts": 3,
        "retry_seconds": DEFAULT_RETRY,
        "machine_detection": "off",
        "machine_message": None,
        "max_cps": 1.0,
        "max_concurrent": 10,
    }


def test_every_setting_given() -> None:
    data = GOOD | {
        "desk": "bpo",
        "window": "09:00-20:30",
        "default_timezone": "America/Chicago",
        "max_attempts": "5",
        "retry_seconds": {"busy": 120, "machine": "7200"},
        "machine_detection": "message",
        "machine_message": "This is Acme about your appointment. Call us at 512 555 0100.",
        "max_cps": "2.5",
        "max_concurrent": 4,
    }
    columns = check_settings(data, FLOWS, DESKS).columns()
    assert (columns["window_start"], columns["window_end"]) == ("09:00", "20:30")
    assert columns["retry_seconds"] == DEFAULT_RETRY | {"busy": 120, "machine": 7200}
    assert (columns["desk"], columns["max_attempts"], columns["max_cps"], columns["max_concurrent"]) == (
        "bpo",
        5,
        2.5,
        4,
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "is required"),
        ({"name": "12"}, "name", "not only digits"),
        ({"name": "a/b"}, "name", "letters, digits"),
        ({"flow": "nope"}, "flow", "no flow 'nope' in the published site (its flows: main, reminder)"),
        ({"caller_id": "5125550100"}, "caller_id", "must be a valid number in E.164"),
        ({"caller_id": "+1512555"}, "caller_id", "must be a valid number in E.164"),
        ({"desk": "night"}, "desk", "no desk 'night' in the published site (its desks: bpo, local)"),
        ({"window": "8-21"}, "window", "'8' is not a time of day written HH:MM"),
        ({"window": "0800"}, "window", "write it as HH:MM-HH:MM"),
        ({"window": "21:00-08:00"}, "window", "the window must open before it closes"),
        ({"window_start": "25:00"}, "window_start", "not a time of day"),
        ({"default_timezone": "Mars/Base"}, "default_timezone", "unknown time zone 'Mars/Base'"),
        ({"max_attempts": 0}, "max_attempts", "whole number from 1 to 10"),
        ({"max_attempts": 2.5}, "max_attempts", "whole number from 1 to 10"),
        ({"max_attempts": True}, "max_attempts", "whole number from 1 to 10"),
        ({"retry_seconds": {"busy": 5}}, "retry_seconds.busy", "whole seconds from 60 to 2592000"),
        ({"retry_seconds": {"fax": 600}}, "retry_seconds.fax", "unknown outcome"),
        ({"retry_seconds": [600]}, "retry_seconds", "must map outcomes"),
        ({"machine_detection": "beep"}, "machine_detection", "must be one of off, hangup, message"),
        ({"machine_detection": "message"}, "machine_message", "is required when machine_detection is"),
        ({"machine_message": "Hi"}, "machine_message", "is only used when machine_detection is message"),
        ({"max_cps": 0}, "max_cps", "above 0 and at most 100"),
        ({"max_cps": "fast"}, "max_cps", "above 0 and at most 100"),
        ({"max_cps": float("nan")}, "max_cps", "above 0 and at most 100"),
        ({"max_concurrent": 5000}, "max_concurrent", "whole number from 1 to 1000"),
        ({"colour": "blue"}, "colour", "unknown field"),
    ],
)
def test_each_bad_value_is_named_by_its_field(change: dict[str, Any], field: str, message: str) -> None:
    found = problems(GOOD | change)
    assert len(found) == 1, found
    assert found[0][0] == field
    assert message in found[0][1]


def test_all_problems_at_once() -> None:
    found = problems({"max_cps": -1, "max_attempts": 99}, flows=None)
    assert [field for field, _message in found] == ["name", "flow", "caller_id", "max_attempts", "max_cps"]
    assert str(CampaignError(found)).startswith("name: is required; flow: is required")
    only_flow = problems(GOOD | {"flow": "reminder"}, flows=None)
    assert only_flow == [("flow", "no flows are published yet, so no desk exists: run `ivr flows publish`")]


TRANSITIONS = {
    ("draft", "start"): "running",
    ("running", "pause"): "paused",
    ("paused", "resume"): "running",
    ("running", "finish"): "finished",
    ("paused", "finish"): "finished",
    ("draft", "cancel"): "cancelled",
    ("running", "cancel"): "cancelled",
    ("paused", "cancel"): "cancelled",
}


@pytest.mark.parametrize("state", ["draft", "running", "paused", "finished", "cancelled"])
@pytest.mark.parametrize("action", ["start", "pause", "resume", "finish", "cancel"])
def test_only_the_legal_transitions(state: str, action: str) -> None:
    if (state, action) in TRANSITIONS:
        assert transition(state, action) == TRANSITIONS[state, action]
    else:
        with pytest.raises(TransitionError, match=f"cannot {action} a campaign that is {state}"):
            transition(state, action)


def test_unknown_action() -> None:
    with pytest.raises(TransitionError, match="unknown action 'restart'"):
        transition("draft", "restart")
