"""Traffic profiles: when callers call, what they press, their patience, and how each desk answers."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from ..engine.schema import explain
from .floor import DeskModel
from .people import Input


class ProfileError(ValueError):
    """A profile that cannot be used; the message lists every problem with its field."""


@dataclass(frozen=True)
class Script:
    """One kind of caller: how often, what they answer, how long their business takes, their patience."""

    weight: float
    inputs: list[Input]
    handle_factor: float = 1.0  # the call's handle time relative to the desk's handle_seconds
    patience_seconds: float | None = None  # None: the callers' mean patience


@dataclass(frozen=True)
class Profile:
    """A validated traffic profile."""

    to: str
    timezone: str
    arrivals: dict[str, list[float]]
    scripts: list[Script]
    population: int
    patience_seconds: float
    message_seconds: int
    desks: dict[str, DeskModel]


@cache
def _validator() -> Draft202012Validator:
    text = (resources.files("ivr") / "schemas" / "profile.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def parse_input(text: str) -> Input:
    """'' is silence, ':words' is speech, anything else is key presses."""
    if text.startswith(":"):
        return Input(speech=text[1:].strip())
    return Input(digits=text)


def load_profile(path: Path) -> Profile:
    """Read and check a profile file."""
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc}") from None
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    worded = map(explain, errors)  # the same words as `ivr flows validate`
    problems = [f"{path}: {'.'.join(map(str, where)) or '(top)'}: {message}" for where, message in worded]
    if not problems:
        try:
            ZoneInfo(data["timezone"])
        except (KeyError, ValueError):
            problems.append(f"{path}: timezone: unknown time zone {data['timezone']!r}")
    if problems:
        raise ProfileError("\n".join(problems))
    callers = data["callers"]
    desks = {
        queue: DeskModel(
            queue=queue,
            agents_by_hour=spec["agents"],
            handle_seconds=spec["handle_seconds"],
            handle_cv=spec.get("handle_cv"),
            survey=spec["survey"],
            repeat_rate=spec.get("repeat_rate", 0.0),
            timezone=data["timezone"],
        )
        for queue, spec in data["desks"].items()
    }
    return Profile(
        to=data["to"],
        timezone=data["timezone"],
        arrivals=data["arrivals"],
        scripts=[
            Script(
                s["weight"],
                [parse_input(i) for i in s["inputs"]],
                s.get("handle_factor", 1.0),
                s.get("patience_seconds"),
            )
            for s in callers["scripts"]
        ],
        population=callers.get("population", 1000),
        patience_seconds=callers.get("patience_seconds", 180.0),
        message_seconds=callers.get("message_seconds", 20),
        desks=desks,
    )


def day_kind(local: datetime) -> str:
    """ "weekend" on Saturday and Sunday, else "weekday"."""
    return "weekend" if local.weekday() >= 5 else "weekday"


def hourly_weights(profile: Profile, start: datetime, days: int) -> list[tuple[datetime, float]]:
    """Each hour of `days` days from `start` with its share of the calls (all 1 when the profile has none)."""
    zone = ZoneInfo(profile.timezone)
    hours = [start + timedelta(hours=h) for h in range(max(1, days) * 24)]
    weights = [
        profile.arrivals[day_kind(hour.astimezone(zone))][hour.astimezone(zone).hour] for hour in hours
    ]
    if not any(weights):
        weights = [1.0] * len(hours)
    return list(zip(hours, weights, strict=True))


def arrival_times(
    profile: Profile, calls: int, start: datetime, days: int, rng: random.Random
) -> list[datetime]:
    """`calls` arrival times over `days` days from `start`, following the hourly volume of the profile."""
    hours, weights = zip(*hourly_weights(profile, start, days), strict=True)
    chosen = rng.choices(hours, weights=weights, k=calls)
    return sorted(hour + timedelta(seconds=rng.uniform(0, 3600)) for hour in chosen)
