"""Calling windows: when a contact may be called, in their own local time, across zones and DST. Pure.
Zones, areas spanning several zones and daylight-saving days: docs/campaigns.md, "Calling windows"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber
from phonenumbers import timezone as number_timezones

DEFAULT_START = "08:00"
DEFAULT_END = "21:00"
LOOKAHEAD_DAYS = 8  # how far ahead an opening is searched for
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
UNKNOWN_ZONE = "Etc/Unknown"

Interval = tuple[datetime, datetime]


def parse_clock(text: str) -> time:
    """A wall-clock time written HH:MM (00:00 to 23:59); ValueError otherwise."""
    found = CLOCK.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a time of day written HH:MM (00:00 to 23:59)")
    return time(int(found.group(1)), int(found.group(2)))


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as America/Chicago)") from None


def is_zone(name: str) -> bool:
    """Whether `name` is a known IANA time zone."""
    try:
        zone(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CallingWindow:
    """The daily hours, in the callee's local time, during which a campaign may call: [start, end)."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str = DEFAULT_START, end: str = DEFAULT_END) -> CallingWindow:
        """A window from two HH:MM times; ValueError unless start is before end (no overnight windows)."""
        opens, closes = parse_clock(start), parse_clock(end)
        if opens >= closes:
            raise ValueError(f"the window must open before it closes ({start}-{end} does not)")
        return cls(opens, closes)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def number_zones(phone: str | PhoneNumber) -> tuple[str, ...]:
    """The time zones of a number's area (E.164 or parsed), as phonenumbers knows them (empty if unknown)."""
    if isinstance(phone, str):
        try:
            phone = phonenumbers.parse(phone, None)
        except NumberParseException:
            return ()
    return _usable(tuple(number_timezones.time_zones_for_number(phone)))


@lru_cache(maxsize=1024)
def _usable(found: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in found if name != UNKNOWN_ZONE and is_zone(name))


def zones_for(
    phone: str, timezone: str | None = None, default_timezone: str | None = None
) -> tuple[str, ...]:
    """The zones whose local time governs calling `phone`: the row's, else the number's, else the default."""
    if timezone:
        return (timezone,)
    found = number_zones(phone)
    if found:
        return found
    return (default_timezone,) if default_timezone else ()


def wall_instant(day: date, clock: time, where: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `where` on `day` shows `clock` or later.

    An ambiguous time (the repeated hour of a fall-back day) is its first occurrence; a time that does not
    exist (the skipped hour of a spring-forward day) is the moment the clocks jump over it.
    """
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=where).astimezone(UTC)
    if first.astimezone(where).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=0 maps it after the jump, fold=1 before; find the jump to the second.
    lo, hi = sorted((first, wall.replace(tzinfo=where, fold=1).astimezone(UTC)))
    after = hi.astimezone(where).utcoffset()
    while hi - lo > timedelta(seconds=1):
        middle = lo + (hi - lo) / 2
        if middle.astimezone(where).utcoffset() == after:
            hi = middle
        else:
            lo = middle
    return hi.replace(microsecond=0)


def open_intervals(name: str, window: CallingWindow, since: datetime, days: int) -> list[Interval]:
    """The window's openings in zone `name`, in UTC, for the local days from the day before `since` on."""
    where = zone(name)
    today = since.astimezone(where).date()
    intervals = []
    for offset in range(-1, days + 1):
        day = today + timedelta(days=offset)
        opens, closes = wall_instant(day, window.start, where), wall_instant(day, window.end, where)
        if closes > opens:
            intervals.append((opens, closes))
    return intervals


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The instants inside both lists of sorted, disjoint intervals."""
    out, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if start < end:
            out.append((start, end))
        if first[i][1] <= second[j][1]:
            i += 1
        else:
            j += 1
    return out


def common_openings(
    zones: Iterable[str], window: CallingWindow, since: datetime, days: int
) -> list[Interval]:
    """When the window is open in every one of `zones` (UTC if none is given)."""
    names = list(dict.fromkeys(zones)) or ["UTC"]
    common = open_intervals(names[0], window, since, days)
    for name in names[1:]:
        common = intersect(common, open_intervals(name, window, since, days))
    return common


def next_opening(
    now: datetime, zones: Iterable[str], window: CallingWindow, days: int = LOOKAHEAD_DAYS
) -> datetime | None:
    """`now` when the window is open now in every zone, else when it next is; None if not within `days`."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware one (UTC)")
    for opens, closes in common_openings(zones, window, now, days):
        if closes > now:
            return max(opens, now.astimezone(UTC))
    return None


@lru_cache(maxsize=64)
def _window(start: str, end: str) -> CallingWindow:
    return CallingWindow.parse(start, end)


def next_call_time(
    now: datetime,
    *,
    phone: str,
    timezone: str | None = None,
    window_start: str = DEFAULT_START,
    window_end: str = DEFAULT_END,
    default_timezone: str | None = None,
) -> datetime | None:
    """When a contact may be called: `now` if inside their window, else its next opening (UTC).

    None when the window is not open in all of the contact's zones at once within LOOKAHEAD_DAYS days
    (e.g. a number whose zones lie too far apart for the window); such a contact cannot be called.
    """
    zones = zones_for(phone, timezone, default_timezone)
    return next_opening(now, zones, _window(window_start, window_end))


def has_common_window(zones: tuple[str, ...], window: CallingWindow, now: datetime) -> bool:
    """Whether the window is ever open in all `zones` at once (looked for over the coming days)."""
    return _has_common(zones, window, now.date())


@lru_cache(maxsize=4096)
def _has_common(zones: tuple[str, ...], window: CallingWindow, day: date) -> bool:
    since = datetime.combine(day, time(), UTC)
    return bool(common_openings(zones, window, since, LOOKAHEAD_DAYS))
