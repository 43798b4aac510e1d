"""What a comparison is asked for, read the same way by the command line and the API (pure).
Its period is read by ivr.calls.periods, the one parser of dates and periods."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..engine.site import Site
from .checks import share, within_range
from .modes import MODES
from .report import MEAN_METRICS, RATE_METRICS

ZONE_EXAMPLES = "America/Chicago, Asia/Manila, Europe/London, UTC"
ASKED = ("mode", "segment", "timezone", "detect", "target", "within")
THRESHOLDS = ("short_abandon", "service_level", "repeat_days")
API_PARAMETERS = ("desks", "since", "until", *THRESHOLDS, *ASKED)


def only_known(given: Iterable[str], known: Sequence[str]) -> None:
    """ValueError naming any parameter the report does not take: a misspelt filter is never ignored."""
    unknown = sorted(set(given) - set(known))
    if not unknown:
        return
    hint = "; the calls of one menu path or label: segment=" if "path" in unknown else ""
    names, takes = ", ".join(map(repr, unknown)), ", ".join(known)
    raise ValueError(f"{names}: not a parameter of the comparison (it takes: {takes}){hint}")


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


def _text(args: Mapping[str, Any], name: str) -> str | None:
    raw = args.get(name)
    return None if raw is None or not str(raw).strip() else str(raw).strip()


def mode(text: str | None) -> str | None:
    """A comparison mode (None: the default rule); ValueError lists the modes."""
    if text is None or text in MODES:
        return text
    raise ValueError(f"mode: {text!r} is not a comparison mode (choose one of: {', '.join(MODES)})")


def detect_sizes(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """The differences to compute power for, from "metric:size,metric:size" (rates as shares, means in
    their unit); ValueError names a metric or size that cannot be used and lists the metrics."""
    if text is None:
        return {}
    pairs: list[tuple[str, object]] = list(text.items()) if isinstance(text, Mapping) else []
    if isinstance(text, str):
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, colon, given = item.partition(":")
            if not colon:
                raise ValueError(f"detect: {item!r} is not metric:size (e.g. abandonment_rate:0.02,aht:15)")
            pairs.append((name.strip(), given.strip()))
    sizes: dict[str, float] = {}
    for metric, size in pairs:
        if metric not in (*RATE_METRICS, *MEAN_METRICS):
            choices = ", ".join((*RATE_METRICS, *MEAN_METRICS))
            raise ValueError(f"detect: {metric!r} is not a rate or a mean (choose one of: {choices})")
        try:
            value = float(size) if isinstance(size, str | int | float) else math.nan
        except ValueError:
            value = math.nan
        high = 1.0 if metric in RATE_METRICS else math.inf
        if not (math.isfinite(value) and 0 < value < high):
            wanted = "a share between 0 and 1 (0.02 is 2 points)" if high == 1 else "a positive number"
            raise ValueError(f"detect: the size for {metric} must be {wanted}, not {size!r}")
        sizes[metric] = value
    return sizes


def number(name: str, value: object, default: float, check: Callable[[str, float], float]) -> float:
    """A number given as text or as a number (absent or blank: the default), checked by `check`, which
    names what is valid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a number (default {default:g})") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: {value!r} is not a number (default {default:g})")
    return check(name, value)


__all__ = [
    "API_PARAMETERS", "Asked", "detect_sizes", "desk_pair", "mode", "number", "only_known", "seconds",
    "share", "time_zone",
]  # fmt: skip


def seconds(name: str, value: float) -> float:
    """A whole day at most of seconds (the service-level threshold of equal service)."""
    return within_range(name, value, 0, 86400)


@dataclass(frozen=True)
class Asked:
    """How a comparison is asked for beyond desks, period and thresholds (CONTRACT parameters)."""

    mode: str | None = None  # None: the default rule
    segment: str | None = None  # None: every segment
    timezone: str | None = None  # None: the site's first schedule's zone, else UTC
    detect: Mapping[str, float] = field(default_factory=dict)
    target: float = 0.8
    within: float = 20.0

    @classmethod
    def from_mapping(cls, args: Mapping[str, Any]) -> Asked:
        """The parameters from a query string or options (mode, segment, timezone, detect, target, within)."""
        return cls(
            mode=mode(_text(args, "mode")),
            segment=_text(args, "segment"),
            timezone=_text(args, "timezone"),
            detect=detect_sizes(_text(args, "detect")),
            target=number("target", args.get("target"), 0.8, share),
            within=number("within", args.get("within"), 20, seconds),
        )
