"""Desk metrics and the side-by-side comparison of two desks in one mode, computed by SQL aggregation.
Only `sql`, `rollup` and `tables` touch the database (docs/metrics.md "In the code")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..calls import periods
from ..engine.site import Site
from . import document, modes, params
from .definitions import Cell, DeskSums, MetricSettings, Selection
from .params import Asked
from .report import DeskData

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
    mode: str | None = None,
    segment: str | None = None,
    timezone: str | None = None,
    detect: str | Mapping[str, float] | None = None,
    target: float = 0.8,
    within: float = 20,
) -> dict[str, Any]:
    """Both desks' figures over [since, until) in one mode, their differences with 95% intervals, the
    per-segment table, the case-mix test, power, breakdowns and the cost at equal service.

    mode: randomised, adjusted or raw (None: the default rule, docs/metrics.md); segment: one segment only;
    timezone: of the hours and days (None: the site's first schedule's zone, else UTC); detect: the
    differences power is computed for ("metric:size,..."); target and within: the service level of
    equal_service. ValueError names an unknown desk, mode, segment, zone or a bad period or value, and the
    valid choices. Costs use the prices of `site` (the published one).
    """
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
    asked = Asked(
        mode=params.mode(mode),
        segment=segment.strip() if segment and segment.strip() else None,
        timezone=timezone,
        detect=params.detect_sizes(detect),
        target=params.number("target", target, 0.8, params.share),
        within=params.number("within", within, 20, params.seconds),
    )
    zone = params.time_zone(timezone, site)
    from .rollup import aggregate

    names = (desk_a, desk_b)
    chosen: list[modes.Choice] = []

    def choose(cells: Mapping[str, Mapping[Cell, DeskSums]]) -> Selection:
        chosen.append(modes.choose(cells, names, asked.mode, asked.segment))
        return chosen[0].selection

    selection, found = aggregate(session, names, since, until, settings, choose)
    pair = tuple(
        document.Sums(
            DeskData(
                site.desks[name],
                found.buckets.get(name, {}),
                found.paths.get(name, {}),
                found.waits.get(name, {}),
                sum(n for cell, n in found.repeated.get(name, {}).items() if selection.holds(cell)),
            ),
            found.cells.get(name, {}),
            found.repeated.get(name, {}),
        )
        for name in names
    )
    return document.build((pair[0], pair[1]), chosen[0], since, until, settings, zone, asked)


def compare_from_args(session: Session, site: Site, args: Mapping[str, str]) -> dict[str, Any]:
    """compare() as the API asks for it: desks=A,B, since, until, short_abandon, service_level, repeat_days,
    mode, segment, timezone, detect, target, within.

    ValueError names the argument that cannot be used and the valid choices.
    """
    params.only_known(args, params.API_PARAMETERS)
    desk_a, desk_b = params.desk_pair(args.get("desks"))
    since, until = periods.period(args.get("since"), args.get("until"))
    settings = MetricSettings.from_mapping(args)
    asked = Asked.from_mapping(args)
    return compare(
        session, site, desk_a, desk_b, since, until, settings, mode=asked.mode, segment=asked.segment,
        timezone=asked.timezone, detect=asked.detect, target=asked.target, within=asked.within,
    )  # fmt: skip


__all__ = ["MetricSettings", "compare", "compare_from_args"]
