"""Showing a simulated call: a readable transcript, or JSON."""

from __future__ import annotations

from typing import Any

from .call import CallResult, Event


def clock_time(seconds: float) -> str:
    """mm:ss into the call."""
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def line(event: Event) -> str:
    """One transcript line: time into the call, who, what."""
    return f"{clock_time(event.at)}  {event.who:<7} {event.what}"


def text(result: CallResult, logged: dict[str, Any] | None = None) -> str:
    """The call as lines a supervisor reads: time, who, what; then the outcome."""
    return "\n".join([*map(line, result.events), summary(result, logged)])


def summary(result: CallResult, logged: dict[str, Any] | None = None) -> str:
    """The lines after the transcript: the outcome, Twilio's error, the call as the log recorded it."""
    lines = []
    outcome = "error" if not result.ok else "ok"
    lines.append(f"outcome: {outcome}, {result.duration} s, call {result.call_sid}")
    if result.error is not None:
        lines.append(f"Twilio error {result.error.code}: {result.error.message}")
    lines += result.status_problems
    if logged is not None:
        facts = ("flow", "desk", "queue_result", "queue_time", "talk_time", "survey_score", "recording_url")
        shown = ", ".join(f"{key}={logged[key]}" for key in facts if logged.get(key) is not None)
        lines.append(f"call log: {shown or 'no desk or survey recorded'}; errors={logged.get('errors', 0)}")
    return "\n".join(lines)


def as_json(result: CallResult, logged: dict[str, Any] | None = None) -> dict[str, Any]:
    """The call as JSON-ready data."""
    return {
        "call_sid": result.call_sid,
        "ok": result.ok,
        "duration": result.duration,
        "error": {"code": result.error.code, "message": result.error.message} if result.error else None,
        "status_problems": result.status_problems,
        "events": [{"at": e.at, "who": e.who, "what": e.what, **e.data} for e in result.events],
        "call_log": logged,
    }
