"""A contact's fate after each call outcome (ivr.campaigns.lifecycle, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.campaigns.lifecycle import After, after_call, outcome_of

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
RETRY = {"busy": 600, "no-answer": 1800, "failed": 900, "machine": 3600}


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        ("completed", None, "human"),
        ("completed", "human", "human"),
        ("completed", "unknown", "human"),
        ("completed", "machine_start", "machine"),
        ("completed", "machine_end_beep", "machine"),
        ("completed", "fax", "machine"),
        ("busy", None, "busy"),
        ("no-answer", None, "no-answer"),
        ("failed", None, "failed"),
        ("canceled", None, "failed"),
    ],
)
def test_outcome_of_a_final_status(status: str, answered_by: str | None, outcome: str) -> None:
    assert outcome_of(status, answered_by) == outcome


@pytest.mark.parametrize(
    ("outcome", "detection", "attempts", "expected"),
    [
        ("human", "off", 1, After("done", None, "human")),
        ("machine", "message", 1, After("done", None, "machine")),  # the message was left
        ("machine", "off", 1, After("done", None, "machine")),
        ("machine", "hangup", 1, After("pending", NOW + timedelta(seconds=3600), "machine")),
        ("machine", "hangup", 3, After("failed", None, "machine")),
        ("busy", "off", 1, After("pending", NOW + timedelta(seconds=600), "busy")),
        ("no-answer", "off", 2, After("pending", NOW + timedelta(seconds=1800), "no-answer")),
        ("no-answer", "off", 3, After("failed", None, "no-answer")),
        ("failed", "off", 1, After("pending", NOW + timedelta(seconds=900), "failed")),
    ],
)
def test_after_a_call(outcome: str, detection: str, attempts: int, expected: After) -> None:
    got = after_call(
        outcome, machine_detection=detection, attempts=attempts, max_attempts=3, retry_seconds=RETRY, now=NOW
    )
    assert got == expected


def test_an_outcome_without_spacing_uses_the_campaign_defaults() -> None:
    got = after_call("busy", machine_detection="off", attempts=1, max_attempts=3, retry_seconds={}, now=NOW)
    assert got == After("pending", NOW + timedelta(seconds=600), "busy")
