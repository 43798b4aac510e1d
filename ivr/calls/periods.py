"""Dates and periods as people type them: one parser for the call list, the reports, the API and the CLI.
A period is [since, until); a date alone as `until` runs to the end of that day (docs/call-log.md#periods)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def moment(name: str, text: str | None, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time (UTC unless it has an offset; `Z` accepted); None when empty.

    A date alone is that day's 00:00 UTC, or with end_of_day the next day's 00:00.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        if DATE_ONLY.fullmatch(text):
            day = date.fromisoformat(text)
            if end_of_day and day == date.max:
                return None  # to the end of time: no upper bound
            start = datetime.combine(day, time.min, UTC)
            return start + timedelta(days=1) if end_of_day else start
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 date or date-time in range") from None


def period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The period [since, until) from its two texts; ValueError names a bad one."""
    start, end = moment("since", since), moment("until", until, end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise ValueError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end
