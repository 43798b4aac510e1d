"""Calling windows in the callee's local time: time zones, daylight-saving days, areas spanning two zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from ivr.campaigns.window import (
    CallingWindow,
    has_common_window,
    next_call_time,
    next_opening,
    parse_clock,
    wall_instant,
    zone,
    zones_for,
)

NEW_YORK = "+12125551234"  # America/New_York
AUSTIN = "+15125550101"  # America/Chicago
IDAHO = "+12085550100"  # area code 208: America/Boise (Mountain) and America/Los_Angeles (Pacific)
INDIA = "+919876543210"  # Asia/Calcutta, UTC+5:30, no daylight saving
FREEPHONE = "+80012345678"  # international freephone: no time zone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def when(now: datetime, phone: str, **options: str | None) -> datetime | None:
    return next_call_time(now, phone=phone, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Saturday 7 March 2026, EST (UTC-5): 08:00 local is 13:00 UTC
        (utc(2026, 3, 7, 12, 59), utc(2026, 3, 7, 13, 0)),
        (utc(2026, 3, 7, 13, 0), utc(2026, 3, 7, 13, 0)),
        # Sunday 8 March: clocks spring forward at 02:00; 08:00 EDT (UTC-4) is 12:00 UTC
        (utc(2026, 3, 8, 11, 30), utc(2026, 3, 8, 12, 0)),
        (utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 12, 0)),
        # 21:00 EDT is 01:00 UTC the next day: still open at 00:59, closed at 01:00 until 08:00 EDT
        (utc(2026, 3, 9, 0, 59), utc(2026, 3, 9, 0, 59)),
        (utc(2026, 3, 9, 1, 0), utc(2026, 3, 9, 12, 0)),
        # Sunday 1 November: clocks fall back at 02:00; 08:00 EST is 13:00 UTC, 21:00 EST is 02:00 UTC
        (utc(2026, 11, 1, 12, 30), utc(2026, 11, 1, 13, 0)),
        (utc(2026, 11, 2, 1, 59), utc(2026, 11, 2, 1, 59)),
        (utc(2026, 11, 2, 2, 0), utc(2026, 11, 2, 13, 0)),
        # the Saturday before fall-back is still EDT: 21:00 is 01:00 UTC
        (utc(2026, 11, 1, 1, 0), utc(2026, 11, 1, 13, 0)),
    ],
)
def test_new_york_window_across_spring_forward_and_fall_back(now: datetime, expected: datetime) -> None:
    assert when(now, NEW_YORK) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 8, 2, 29), utc(2026, 3, 8, 2, 30)),  # 07:59 IST -> 08:00 IST
        (utc(2026, 3, 8, 2, 30), utc(2026, 3, 8, 2, 30)),
        (utc(2026, 3, 8, 15, 29), utc(2026, 3, 8, 15, 29)),  # 20:59 IST: open
        (utc(2026, 3, 8, 15, 30), utc(2026, 3, 9, 2, 30)),  # 21:00 IST: closed until tomorrow
        (utc(2026, 11, 1, 12, 0), utc(2026, 11, 1, 12, 0)),  # US daylight saving changes nothing here
    ],
)
def test_a_half_hour_zone(now: datetime, expected: datetime) -> None:
    assert when(now, INDIA) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 14 March 2026, both on daylight time: MDT UTC-6, PDT UTC-7. 08:00 MDT = 14:00 UTC, but it is
        # 07:00 in Los Angeles: the window opens for the whole area at 08:00 PDT = 15:00 UTC
        (utc(2026, 3, 14, 14, 0), utc(2026, 3, 14, 15, 0)),
        (utc(2026, 3, 14, 15, 0), utc(2026, 3, 14, 15, 0)),
        # and it closes at 21:00 MDT = 03:00 UTC, while Los Angeles would still allow an hour
        (utc(2026, 3, 15, 2, 59), utc(2026, 3, 15, 2, 59)),
        (utc(2026, 3, 15, 3, 0), utc(2026, 3, 15, 15, 0)),
        # on the spring-forward day itself (8 March): 08:00 PDT = 15:00 UTC, 21:00 MDT = 03:00 UTC
        (utc(2026, 3, 8, 14, 30), utc(2026, 3, 8, 15, 0)),
        (utc(2026, 3, 9, 3, 0), utc(2026, 3, 9, 15, 0)),
        # the day before (standard time): 08:00 PST = 16:00 UTC
        (utc(2026, 3, 7, 15, 30), utc(2026, 3, 7, 16, 0)),
    ],
)
def test_an_area_code_spanning_two_zones_is_called_only_when_open_in_both(
    now: datetime, expected: datetime
) -> None:
    assert zones_for(IDAHO) == ("America/Boise", "America/Los_Angeles")
    assert when(now, IDAHO) == expected


def test_the_rows_zone_wins_over_the_numbers_and_the_default_over_none() -> None:
    now = utc(2026, 3, 9, 14, 0)  # 10:00 in New York, 09:00 in Austin, 15:00 in London
    assert when(now, NEW_YORK, timezone="Asia/Tokyo") == utc(2026, 3, 9, 23, 0)  # 08:00 JST
    assert when(now, AUSTIN, default_timezone="Asia/Tokyo") == now  # the number's zone first
    assert zones_for(FREEPHONE) == ()
    assert when(now, FREEPHONE, default_timezone="Asia/Tokyo") == utc(2026, 3, 9, 23, 0)
    assert when(utc(2026, 3, 9, 7, 59), FREEPHONE) == utc(2026, 3, 9, 8, 0)  # no zone at all: UTC


def test_a_campaign_window_is_used_in_local_time() -> None:
    window = {"window_start": "09:30", "window_end": "17:00"}
    assert when(utc(2026, 3, 9, 13, 0), NEW_YORK, **window) == utc(2026, 3, 9, 13, 30)
    assert when(utc(2026, 3, 9, 21, 0), NEW_YORK, **window) == utc(2026, 3, 10, 13, 30)


def test_window_edges_in_the_skipped_and_the_repeated_hour() -> None:
    new_york = zone("America/New_York")
    # 02:30 does not exist on 8 March 2026: the first instant at or after it is the jump, 03:00 EDT
    assert wall_instant(date(2026, 3, 8), time(2, 30), new_york) == utc(2026, 3, 8, 7, 0)
    # 01:30 happens twice on 1 November 2026: the first time (EDT) is taken
    assert wall_instant(date(2026, 11, 1), time(1, 30), new_york) == utc(2026, 11, 1, 5, 30)
    night = {"window_start": "02:30", "window_end": "05:00"}
    assert when(utc(2026, 3, 8, 5, 0), NEW_YORK, **night) == utc(2026, 3, 8, 7, 0)


def test_zones_too_far_apart_for_the_window_never_open_together() -> None:
    short = CallingWindow.parse("09:00", "10:00")
    zones = ("Pacific/Honolulu", "Asia/Tokyo")
    now = utc(2026, 3, 9, 0, 0)
    assert next_opening(now, zones, short) is None
    assert not has_common_window(zones, short, now)
    assert has_common_window(zones, CallingWindow.parse(), now)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("8:00", "21:00", "'8:00' is not a time of day written HH:MM"),
        ("08:00", "24:00", "'24:00' is not a time of day written HH:MM"),
        ("21:00", "08:00", "the window must open before it closes (21:00-08:00 does not)"),
        ("09:00", "09:00", "the window must open before it closes"),
    ],
)
def test_bad_windows_are_refused(start: str, end: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CallingWindow.parse(start, end)


def test_clock_and_zone_errors() -> None:
    assert parse_clock(" 07:05 ") == time(7, 5)
    assert str(CallingWindow.parse()) == "08:00-21:00"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        zone("Mars/Base")
    with pytest.raises(ValueError, match="naive datetime"):
        next_opening(datetime(2026, 3, 9, 12, 0), ("UTC",), CallingWindow.parse())
