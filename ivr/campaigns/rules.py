"""Campaign settings and states: what a valid campaign is, and which state changes are legal. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..flows.errors import NothingPublished
from .phone import to_e164
from .window import DEFAULT_END, DEFAULT_START, CallingWindow, is_zone

OUTCOMES = ("busy", "no-answer", "failed", "machine")  # the outcomes a contact is retried after
DEFAULT_RETRY = {"busy": 600, "no-answer": 3600, "failed": 3600, "machine": 14400}
MIN_RETRY, MAX_RETRY = 60, 30 * 86400
MACHINE_DETECTION = ("off", "hangup", "message")
MAX_ATTEMPTS = 10
MAX_CPS = 100.0
MAX_CONCURRENT = 1000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$")
FIELDS = frozenset(
    {
        "name",
        "flow",
        "caller_id",
        "desk",
        "window",
        "window_start",
        "window_end",
        "default_timezone",
        "max_attempts",
        "retry_seconds",
        "machine_detection",
        "machine_message",
        "max_cps",
        "max_concurrent",
    }
)

STATES = ("draft", "running", "paused", "finished", "cancelled")
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"draft"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "finish": (frozenset({"running", "paused"}), "finished"),
    "cancel": (frozenset({"draft", "running", "paused"}), "cancelled"),
}


class CampaignError(ValueError):
    """Bad campaign settings: every problem as (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))


class TransitionError(ValueError):
    """A state change that is not allowed from the campaign's state."""


def transition(state: str, action: str) -> str:
    """The state `action` leads to from `state`; TransitionError when it is not allowed."""
    if action not in ACTIONS:
        raise TransitionError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    sources, target = ACTIONS[action]
    if state not in sources:
        allowed = " or ".join(sorted(sources))
        raise TransitionError(f"cannot {action} a campaign that is {state}: only a {allowed} one")
    return target


@dataclass(frozen=True)
class CampaignSettings:
    """A campaign's settings, checked and normalised."""

    name: str
    flow: str
    caller_id: str
    desk: str | None = None
    window_start: str = DEFAULT_START
    window_end: str = DEFAULT_END
    default_timezone: str | None = None
    max_attempts: int = 3
    retry_seconds: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RETRY))
    machine_detection: str = "off"
    machine_message: str | None = None
    max_cps: float = 1.0
    max_concurrent: int = 10

    def columns(self) -> dict[str, Any]:
        """The values for a campaigns row."""
        return {
            "name": self.name,
            "flow": self.flow,
            "caller_id": self.caller_id,
            "desk": self.desk,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "default_timezone": self.default_timezone,
            "max_attempts": self.max_attempts,
            "retry_seconds": dict(self.retry_seconds),
            "machine_detection": self.machine_detection,
            "machine_message": self.machine_message,
            "max_cps": self.max_cps,
            "max_concurrent": self.max_concurrent,
        }


def _integer(value: Any) -> int | None:
    """A whole number from JSON or text (not a bool, not 2.5), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class _Checker:
    """Collects the problems of one set of settings."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[tuple[str, str]] = []

    def fail(self, name: str, message: str) -> None:
        self.problems.append((name, message))

    def required_text(self, name: str) -> str:
        value = _text(self.data.get(name))
        if value is None:
            self.fail(name, "is required")
        return value or ""

    def whole(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.data.get(name)
        if raw is None:
            return default
        value = _integer(raw)
        if value is None or not low <= value <= high:
            self.fail(name, f"must be a whole number from {low} to {high} (got {raw!r})")
            return default
        return value


def _check_name(check: _Checker) -> str:
    name = check.required_text("name")
    if name and (NAME.match(name) is None or name.isdigit()):
        check.fail(
            "name",
            "1 to 80 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit, "
            "and not only digits (numbers are campaign ids)",
        )
    return name


def _check_window(check: _Checker) -> tuple[str, str]:
    data = check.data
    if data.get("window") is not None:
        raw = data["window"]
        start, sep, end = raw.partition("-") if isinstance(raw, str) else ("", "", "")
        if not sep:
            check.fail("window", f"write it as HH:MM-HH:MM, e.g. 08:00-21:00 (got {raw!r})")
            return DEFAULT_START, DEFAULT_END
        where = "window"
    else:
        start, end = data.get("window_start") or DEFAULT_START, data.get("window_end") or DEFAULT_END
        where = "window_start" if data.get("window_start") else "window_end"
    try:
        window = CallingWindow.parse(str(start), str(end))
    except ValueError as exc:
        check.fail(where, str(exc))
        return DEFAULT_START, DEFAULT_END
    return f"{window.start:%H:%M}", f"{window.end:%H:%M}"


def _check_retry(check: _Checker) -> dict[str, int]:
    raw = check.data.get("retry_seconds")
    retry = dict(DEFAULT_RETRY)
    if raw is None:
        return retry
    if not isinstance(raw, Mapping):
        check.fail("retry_seconds", f"must map outcomes ({', '.join(OUTCOMES)}) to seconds")
        return retry
    for outcome, seconds in raw.items():
        where = f"retry_seconds.{outcome}"
        if outcome not in OUTCOMES:
            check.fail(where, f"unknown outcome (one of {', '.join(OUTCOMES)})")
            continue
        value = _integer(seconds)
        if value is None or not MIN_RETRY <= value <= MAX_RETRY:
            check.fail(where, f"must be whole seconds from {MIN_RETRY} to {MAX_RETRY} (got {seconds!r})")
            continue
        retry[outcome] = value
    return retry


def _check_machine(check: _Checker) -> tuple[str, str | None]:
    mode = check.data.get("machine_detection") or "off"
    message = _text(check.data.get("machine_message"))
    if mode not in MACHINE_DETECTION:
        check.fail("machine_detection", f"must be one of {', '.join(MACHINE_DETECTION)} (got {mode!r})")
        return "off", None
    if mode == "message" and message is None:
        check.fail("machine_message", "is required when machine_detection is message (what to leave)")
    if mode != "message" and message is not None:
        check.fail("machine_message", "is only used when machine_detection is message")
    return str(mode), message


def check_settings(
    data: Mapping[str, Any], flows: Collection[str] | None, desks: Collection[str] | None
) -> CampaignSettings:
    """Checked settings from `data` (JSON or command-line values), against the published flows and desks.

    `flows` and `desks` are None when nothing is published yet. Raises CampaignError naming every bad field.
    """
    check = _Checker(data)
    for unknown in sorted(set(data) - FIELDS):
        check.fail(unknown, "unknown field")
    name = _check_name(check)
    flow = check.required_text("flow")
    if flow and flows is None:
        check.fail("flow", NothingPublished.MESSAGE)
    elif flow and flow not in (flows or ()):
        known = ", ".join(sorted(flows or ()))
        check.fail("flow", f"no flow {flow!r} in the published site (its flows: {known})")
    caller_id = check.required_text("caller_id")
    if caller_id:
        try:
            if to_e164(caller_id) != caller_id:
                raise ValueError
        except ValueError:
            check.fail("caller_id", f"must be a valid number in E.164, like +15125550100 (got {caller_id!r})")
    desk = _text(data.get("desk"))
    if desk is not None and desk not in (desks or ()):
        known = ", ".join(sorted(desks or ())) or "none"
        check.fail("desk", f"no desk {desk!r} in the published site (its desks: {known})")
    window_start, window_end = _check_window(check)
    zone = _text(data.get("default_timezone"))
    if zone is not None and not is_zone(zone):
        check.fail("default_timezone", f"unknown time zone {zone!r} (use an IANA name like America/Chicago)")
    max_attempts = check.whole("max_attempts", 3, 1, MAX_ATTEMPTS)
    retry = _check_retry(check)
    mode, message = _check_machine(check)
    cps = 1.0
    if data.get("max_cps") is not None:
        value = _number(data["max_cps"])
        if value is None or not 0 < value <= MAX_CPS:
            message = f"must be a number above 0 and at most {MAX_CPS:g} (got {data['max_cps']!r})"
            check.fail("max_cps", message)
        else:
            cps = value
    concurrent = check.whole("max_concurrent", 10, 1, MAX_CONCURRENT)
    if check.problems:
        raise CampaignError(check.problems)
    return CampaignSettings(
        name=name,
        flow=flow,
        caller_id=caller_id,
        desk=desk,
        window_start=window_start,
        window_end=window_end,
        default_timezone=zone,
        max_attempts=max_attempts,
        retry_seconds=retry,
        machine_detection=mode,
        machine_message=message,
        max_cps=cps,
        max_concurrent=concurrent,
    )
