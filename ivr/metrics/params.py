"""What a comparison is asked for, read the same way by the command line and the API (pure).
Its period is read by ivr.calls.periods, the one parser of dates and periods."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..engine.site import Site

ZONE_EXAMPLES = "America/Chicago, Asia/Manila, Europe/London, UTC"


def desk_pair(text: str | None) -> tuple[str, str]:
    """Two desk names from "A,B"; ValueError unless there are exactly two different ones."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if len(names) != 2:
        raise ValueError(f"desks: give exactly two desk names separated by a comma, e.g. desks=local,bpo "
                         f"(got {text!r})")  # fmt: skip
    if names[0] == names[1]:
        raise ValueError(f"desks: give two different desks, not {names[0]!r} twice")
    return names[0], names[1]


def site_zone(site: Site) -> str:
    """The zone of the site's first schedule, else UTC: where a report's hours are read by default."""
    for schedule in site.schedules.values():
        zone = schedule.get("timezone")
        if isinstance(zone, str) and zone:
            return zone
    return "UTC"


def time_zone(text: str | None, site: Site) -> str:
    """An IANA time zone name (absent: the site's default); ValueError names a zone that does not exist."""
    if text is None or not text.strip():
        return site_zone(site)
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone: {name!r} is not an IANA time zone; give a zoneinfo name, e.g. {ZONE_EXAMPLES}"
        ) from None
    return name
