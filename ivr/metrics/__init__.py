"""Desk metrics and the side-by-side comparison of two desks, computed by SQL aggregation.
`definitions`, `stats`, `labels`, `export`, `report`, `params` are pure; `sql` asks the database for sums."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..calls import periods
from ..engine.site import Site
from . import params
from .definitions import MetricSettings
from .report import DeskData, build

if TYPE_CHECKING:  # the pure modules stay importable without SQLAlchemy
    from sqlalchemy.orm import Session


def compare(
    session: Session,
    site: Site,
    desk_a: str,
    desk_b: str,
    since: datetime | None,
    until: datetime | None,
    settings: MetricSettings = MetricSettings(),  # noqa: B008 (frozen, so a shared default is safe)
    *,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Both desks' figures over [since, until), their differences with 95% intervals, and breakdowns.

    Hours and days are read in `timezone` (None: the site's first schedule's zone, else UTC). ValueError
    names an unknown desk, zone or a bad period. Costs use the prices of `site` (the published one).
    """
    zone = params.time_zone(timezone, site)
    for name in (desk_a, desk_b):
        if name not in site.desks:
            known = ", ".join(sorted(site.desks))
            raise ValueError(f"unknown desk {name!r} (the published site has: {known})")
    if desk_a == desk_b:
        raise ValueError(f"compare two different desks, not {desk_a!r} with itself")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name}: give a time zone (naive date-times are ambiguous)")
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be before until")
    from .rollup import aggregate

    found = aggregate(session, (desk_a, desk_b), since, until, settings)
    first, second = (
        DeskData(
            site.desks[name],
            found.buckets.get(name, {}),
            found.paths.get(name, {}),
            found.waits.get(name, {}),
            found.repeated.get(name, 0),
        )
        for name in (desk_a, desk_b)
    )
    return build(first, second, since, until, settings, zone)


def compare_from_args(session: Session, site: Site, args: Mapping[str, str]) -> dict[str, Any]:
    """compare() as the API asks for it: desks=A,B, since, until, short_abandon, service_level, repeat_days,
    timezone.

    ValueError names the argument that cannot be used.
    """
    desk_a, desk_b = params.desk_pair(args.get("desks"))
    since, until = periods.period(args.get("since"), args.get("until"))
    settings = MetricSettings.from_mapping(args)
    return compare(session, site, desk_a, desk_b, since, until, settings, timezone=args.get("timezone"))


__all__ = ["MetricSettings", "compare", "compare_from_args"]
