"""What a comparison is asked for, read the same way by the command line and the API (pure)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def moment(name: str, text: str | None, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time (UTC unless it has an offset); None when empty.

    A date alone is that day's 00:00 UTC, or with end_of_day the next day's 00:00 (so `until` given as a
    date includes the whole day, as in /api/calls).
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        if DATE_ONLY.fullmatch(text):
            day = date.fromisoformat(text)
            start = datetime.combine(day, time.min, UTC)
            return start + timedelta(days=1) if end_of_day else start
        found = datetime.fromisoformat(text)
        return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 date or date-time in range") from None


def period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The period [since, until) from its two texts; ValueError names a bad one."""
    start, end = moment("since", since), moment("until", until, end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise ValueError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end


def desk_pair(text: str | None) -> tuple[str, str]:
    """Two desk names from "A,B"; ValueError unless there are exactly two different ones."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if len(names) != 2:
        raise ValueError(f"desks: give exactly two desk names separated by a comma, e.g. desks=local,bpo "
                         f"(got {text!r})")  # fmt: skip
    if names[0] == names[1]:
        raise ValueError(f"desks: give two different desks, not {names[0]!r} twice")
    return names[0], names[1]
