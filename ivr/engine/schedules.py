"""Time rules: weekly schedules with holidays, and time-of-day windows, in a named time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
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


def in_window(here: datetime, start: str, end: str, days_ago: int) -> bool:
    """Whether local time `here` falls in a [start, end) window held `days_ago` (0 or 1) days before.

    A window whose end is before its start runs past midnight into the next day: a Friday 22:00-02:00
    window covers Friday from 22:00 and Saturday until 02:00 (not Friday until 02:00).
    """
    lo, hi, moment = parse_clock(start), parse_clock(end), here.time()
    if days_ago:
        return hi < lo and moment < hi
    return lo <= moment < hi if lo <= hi else moment >= lo


def is_holiday(schedule: Mapping[str, Any], now: datetime) -> bool:
    """Whether the local date of `now` is one of the schedule's holidays."""
    today = local(now, schedule["timezone"]).date().isoformat()
    return today in schedule.get("holidays", ())


def is_open(schedule: Mapping[str, Any], now: datetime) -> bool:
    """Whether the schedule is open at `now`: not a holiday, and inside one of the day's ranges or the
    after-midnight part of an overnight range of the day before (unless that day was a holiday)."""
    if is_holiday(schedule, now):
        return False
    here = local(now, schedule["timezone"])
    for days_ago in (0, 1):
        day = here.date() - timedelta(days=days_ago)
        if day.isoformat() in schedule.get("holidays", ()):
            continue
        ranges: Sequence[Sequence[str]] = schedule["hours"].get(DAYS[day.weekday()], ())
        if any(in_window(here, start, end, days_ago) for start, end in ranges):
            return True
    return False


def time_matches(rule: Mapping[str, Any], now: datetime) -> bool:
    """Whether `now` matches a branch time rule (timezone, optional days, optional from/to); a window
    running past midnight belongs to the day it starts on."""
    here = local(now, rule["timezone"])
    days = rule.get("days", DAYS)
    start, end = rule.get("from", "00:00"), rule.get("to", "24:00")
    return any(
        DAYS[(here - timedelta(days=days_ago)).weekday()] in days and in_window(here, start, end, days_ago)
        for days_ago in (0, 1)
    )
