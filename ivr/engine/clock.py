"""Time rules: weekly schedules with holidays, and time-of-day windows, in a named time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(text: str) -> time:
    """'HH:MM' as a time; '24:00' is the end of the day."""
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def local(now: datetime, timezone: str) -> datetime:
    """`now` (aware) in the given IANA time zone."""
    return now.astimezone(ZoneInfo(timezone))


def in_window(moment: time, start: str, end: str) -> bool:
    """Whether `moment` falls in [start, end); a window whose end is before its start spans midnight."""
    lo, hi = parse_clock(start), parse_clock(end)
    if lo <= hi:
        return lo <= moment < hi
    return moment >= lo or moment < hi


def is_holiday(schedule: Mapping[str, Any], now: datetime) -> bool:
    """Whether the local date of `now` is one of the schedule's holidays."""
    today = local(now, schedule["timezone"]).date().isoformat()
    return today in schedule.get("holidays", ())


def is_open(schedule: Mapping[str, Any], now: datetime) -> bool:
    """Whether the schedule is open at `now`: not a holiday and inside one of the day's ranges."""
    if is_holiday(schedule, now):
        return False
    here = local(now, schedule["timezone"])
    ranges: Sequence[Sequence[str]] = schedule["hours"].get(DAYS[here.weekday()], ())
    return any(in_window(here.time(), start, end) for start, end in ranges)


def time_matches(rule: Mapping[str, Any], now: datetime) -> bool:
    """Whether `now` matches a branch time rule (timezone, optional days, optional from/to)."""
    here = local(now, rule["timezone"])
    if "days" in rule and DAYS[here.weekday()] not in rule["days"]:
        return False
    return in_window(here.time(), rule.get("from", "00:00"), rule.get("to", "24:00"))
