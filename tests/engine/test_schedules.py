"""Time: hours nodes on named schedules (time zones, DST, holidays, overnight ranges) and time conditions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.engine import LogEntry

from .support import SITE_DOC, Call, context, hangup, make_site

CHICAGO = ZoneInfo("America/Chicago")
MANILA = ZoneInfo("Asia/Manila")

SCHEDULES = {
    "support": SITE_DOC["schedules"]["support"],
    "always": {
        "timezone": "America/Chicago",
        "hours": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "holidays": ["2026-12-25"],
    },
    # Friday night 22:00 to Saturday 02:00, Saturday evening until midnight (Manila has no DST).
    "nights": {
        "timezone": "Asia/Manila",
        "hours": {"fri": [["22:00", "02:00"]], "sat": [["20:00", "24:00"]]},
        "holidays": ["2026-03-13", "2026-03-21"],
    },
}
SITE = copy.deepcopy(SITE_DOC) | {"schedules": SCHEDULES}
ENDINGS = {"open": hangup("Open."), "closed": hangup("Closed."), "holiday": hangup("Holiday.")}


def hours_call(schedule: str, now: datetime, holiday_branch: bool = True) -> Call:
    node: dict[str, Any] = {"type": "hours", "schedule": schedule, "open": "open", "closed": "closed"}
    if holiday_branch:
        node["holiday"] = "holiday"
    return Call(make_site({"check": node, **ENDINGS}, site=SITE), ctx=context(now=now))


def outcome(schedule: str, now: datetime, holiday_branch: bool = True) -> str:
    call = hours_call(schedule, now, holiday_branch)
    (entry,) = call.entries("hours")
    assert entry == LogEntry("hours", "check", {"schedule": schedule, "result": call.state.node})
    return str(call.state.node)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 2, 16, 0, tzinfo=UTC), "open"),  # Monday 10:00 CST
        (datetime(2026, 3, 2, 13, 30, tzinfo=UTC), "closed"),  # Monday 07:30 CST, though 13:30 UTC
        (datetime(2026, 3, 2, 8, 0, tzinfo=CHICAGO), "open"),  # opening time is open
        (datetime(2026, 3, 2, 17, 59, tzinfo=CHICAGO), "open"),
        (datetime(2026, 3, 2, 18, 0, tzinfo=CHICAGO), "closed"),  # closing time is closed
        (datetime(2026, 3, 7, 9, 30, tzinfo=CHICAGO), "open"),  # Saturday morning
        (datetime(2026, 3, 7, 13, 0, tzinfo=CHICAGO), "closed"),
        (datetime(2026, 3, 8, 12, 0, tzinfo=CHICAGO), "closed"),  # Sunday: no hours at all
        (datetime(2026, 3, 9, 13, 30, tzinfo=UTC), "open"),  # Monday 08:30 CDT: daylight saving time began
        (datetime(2026, 12, 25, 10, 0, tzinfo=CHICAGO), "holiday"),  # a Friday, but Christmas
    ],
)
def test_support_hours_in_the_schedules_time_zone(now: datetime, expected: str) -> None:
    assert outcome("support", now) == expected


def test_a_holiday_without_a_holiday_branch_is_closed() -> None:
    assert outcome("support", datetime(2026, 12, 25, 10, 0, tzinfo=CHICAGO), holiday_branch=False) == "closed"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 25, 5, 0, tzinfo=UTC), "open"),  # still 24 December in Chicago
        (datetime(2026, 12, 26, 1, 0, tzinfo=UTC), "holiday"),  # already 26 December in UTC
    ],
)
def test_holidays_follow_the_local_date(now: datetime, expected: str) -> None:
    assert outcome("always", now) == expected


def test_twenty_four_hundred_is_the_end_of_the_day() -> None:
    assert outcome("always", datetime(2026, 3, 3, 23, 59, 59, tzinfo=CHICAGO)) == "open"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 6, 21, 59, tzinfo=MANILA), "closed"),  # Friday, before the night opens
        (datetime(2026, 3, 6, 23, 0, tzinfo=MANILA), "open"),  # Friday night
        (datetime(2026, 3, 7, 1, 0, tzinfo=MANILA), "open"),  # Friday night, after midnight
        (datetime(2026, 3, 7, 2, 0, tzinfo=MANILA), "closed"),  # the night is over
        (datetime(2026, 3, 6, 1, 0, tzinfo=MANILA), "closed"),  # Thursday night: there is no Thursday range
        (datetime(2026, 3, 7, 21, 0, tzinfo=MANILA), "open"),  # Saturday evening
        (datetime(2026, 3, 8, 0, 30, tzinfo=MANILA), "closed"),  # a range ending at 24:00 does not run over
        (datetime(2026, 3, 13, 23, 0, tzinfo=MANILA), "holiday"),  # a holiday Friday night
        (datetime(2026, 3, 14, 1, 0, tzinfo=MANILA), "closed"),  # ...stays closed after midnight
        (datetime(2026, 3, 21, 1, 0, tzinfo=MANILA), "holiday"),  # a holiday closes the whole date
    ],
)
def test_overnight_ranges_run_into_the_next_day(now: datetime, expected: str) -> None:
    assert outcome("nights", now) == expected


def time_holds(rule: dict[str, Any], now: datetime) -> bool:
    nodes = {
        "check": {"type": "branch", "rules": [{"if": {"time": rule}, "next": "open"}], "else": "closed"},
        **ENDINGS,
    }
    return Call(make_site(nodes), ctx=context(now=now)).state.node == "open"


OFFICE = {
    "timezone": "Asia/Manila",
    "from": "09:00",
    "to": "17:00",
    "days": ["mon", "tue", "wed", "thu", "fri"],
}
FRIDAY_NIGHT = {"timezone": "Asia/Manila", "from": "22:00", "to": "02:00", "days": ["fri"]}


@pytest.mark.parametrize(
    ("rule", "now", "expected"),
    [
        (OFFICE, datetime(2026, 3, 2, 2, 0, tzinfo=UTC), True),  # Monday 10:00 in Manila
        (OFFICE, datetime(2026, 3, 2, 10, 0, tzinfo=UTC), False),  # Monday 18:00 in Manila
        (OFFICE, datetime(2026, 3, 7, 2, 0, tzinfo=UTC), False),  # Saturday 10:00 in Manila
        (OFFICE, datetime(2026, 3, 6, 16, 0, tzinfo=UTC), False),  # Friday 16:00 UTC is Saturday in Manila
        (FRIDAY_NIGHT, datetime(2026, 3, 6, 23, 0, tzinfo=MANILA), True),
        (FRIDAY_NIGHT, datetime(2026, 3, 7, 1, 0, tzinfo=MANILA), True),  # Saturday 01:00 is Friday night
        (FRIDAY_NIGHT, datetime(2026, 3, 6, 1, 0, tzinfo=MANILA), False),  # Friday 01:00 is Thursday night
        (FRIDAY_NIGHT, datetime(2026, 3, 7, 23, 0, tzinfo=MANILA), False),
        ({"timezone": "UTC", "from": "22:00", "to": "02:00"}, datetime(2026, 3, 4, 1, 0, tzinfo=UTC), True),
        ({"timezone": "UTC", "from": "22:00", "to": "02:00"}, datetime(2026, 3, 4, 12, 0, tzinfo=UTC), False),
        ({"timezone": "UTC", "days": ["sat", "sun"]}, datetime(2026, 3, 8, 23, 59, tzinfo=UTC), True),
        ({"timezone": "UTC", "days": ["sat", "sun"]}, datetime(2026, 3, 9, 0, 0, tzinfo=UTC), False),
        ({"timezone": "UTC", "to": "12:00"}, datetime(2026, 3, 9, 0, 0, tzinfo=UTC), True),
        ({"timezone": "UTC", "from": "12:00"}, datetime(2026, 3, 9, 11, 59, tzinfo=UTC), False),
    ],
)
def test_time_conditions(rule: dict[str, Any], now: datetime, expected: bool) -> None:
    assert time_holds(rule, now) is expected
