"""A desk's day on the wallboard (pure): when its day starts, its figures so far under the reports'
definitions, and which of them meet or miss the desk's targets (docs/desks.md, "Live wallboard")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ..engine.site import Desk, Targets
from .definitions import DeskSums, MetricSettings, mean_parts, rate_parts, summable_figures

MET = "met"
MISSED = "missed"
TODAY_FIGURES = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "service_level", "asa",
    "abandonment_rate",
)  # fmt: skip
DEFINITIONS = {
    "waiting": "callers in the desk's queue (or being dialled) now, not yet with an agent",
    "longest_wait": "seconds the longest-waiting of them has waited, since the call reached the desk",
    "agents_signed_in": "agents signed in on the agent line for this desk (ready or on a call)",
    "agents_on_call": "signed-in agents bridged to a caller now",
    "agents_free": "signed-in agents not on a call",
    "today": "caller calls started since midnight in the desk's time zone, counted as the reports count "
    "them (docs/metrics.md): offered, answered, abandoned, short_abandoned, overflows",
    "service_level": "answered within the desk's service_level_seconds / (offered - short_abandoned)",
    "asa": "mean queue time of the answered calls (s)",
    "abandonment_rate": "(abandoned - short_abandoned) / (offered - short_abandoned)",
    "status": "per figure with a target: 'met' or 'missed' (null: no target, or no calls yet); "
    "longest_wait is 'missed' once a caller has waited longer than service_level_seconds",
}


def settings_for(targets: Targets) -> MetricSettings:
    """The reports' settings, with the desk's own service-level threshold when it sets one."""
    if targets.service_level_seconds is None:
        return MetricSettings()
    return MetricSettings(service_level_seconds=targets.service_level_seconds)


def day_start(now: datetime, zone: str) -> datetime:
    """Midnight of `now`'s date in the time zone, as an aware UTC moment (never after `now`)."""
    where = ZoneInfo(zone)
    midnight = datetime.combine(now.astimezone(where).date(), time(), tzinfo=where)
    return min(midnight.astimezone(UTC), now.astimezone(UTC))


def _at_most(numerator: float, denominator: float, limit: float | None) -> str | None:
    """Whether numerator / denominator <= limit, in exact arithmetic (None: no limit or no denominator)."""
    if limit is None or not denominator:
        return None
    return MET if numerator <= limit * denominator else MISSED


def judged(
    sums: DeskSums, targets: Targets, longest_wait: int | None, settings: MetricSettings
) -> dict[str, Any]:
    """Each targeted figure: 'met', 'missed', or None (no target, or nothing to judge yet)."""
    in_time, eligible = rate_parts(sums)["service_level"]
    lowest = targets.service_level_percent
    service = None
    if lowest is not None and eligible:
        service = MET if in_time * 100 >= lowest * eligible else MISSED
    abandoned, offered = rate_parts(sums)["abandonment_rate"]
    limit = targets.abandonment_percent
    waits, wait_sum, _squares = mean_parts(sums)["asa"]
    threshold = settings.service_level_seconds
    return {
        "service_level": service,
        "asa": _at_most(wait_sum, waits, targets.asa_seconds),
        "abandonment_rate": _at_most(abandoned * 100, offered, limit),
        "longest_wait": None if longest_wait is None else MET if longest_wait <= threshold else MISSED,
    }


def desk_row(
    desk: Desk, now_figures: Mapping[str, Any], sums: DeskSums, since: datetime, settings: MetricSettings
) -> dict[str, Any]:
    """One desk's wallboard entry: who waits now, its day so far, its targets and how it is doing."""
    figures = summable_figures(sums)
    targets = desk.targets
    return {
        "desk": desk.name,
        "label": desk.label,
        "takes_calls_by": "queue" if desk.queue is not None else "dial",
        "timezone": desk.timezone,
        "day_started_at": since.isoformat(),
        "now": dict(now_figures),
        "today": {name: figures[name] for name in TODAY_FIGURES},
        "targets": {
            "service_level_seconds": settings.service_level_seconds,
            "service_level_percent": targets.service_level_percent,
            "asa_seconds": targets.asa_seconds,
            "abandonment_percent": targets.abandonment_percent,
        },
        "status": judged(sums, targets, now_figures.get("longest_wait"), settings),
    }
