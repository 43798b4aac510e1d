"""The side-by-side comparison of two desks, assembled from their sums (pure: no database here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from ..engine import costs
from ..engine.site import Desk
from .definitions import (
    DeskSums,
    breakdown_figures,
    mean_parts,
    nearest_rank,
    rate_parts,
    ratio,
    summable_figures,
)
from .labels import amount_text, unit_of
from .stats import newcombe, sample_variance, welch

BUCKET_SECONDS = 900
SIGNIFICANT = "significant at 95%"
NO_DIFFERENCE = "no significant difference"


@dataclass(frozen=True)
class DeskData:
    """One desk's configuration and what the database summed for it."""

    desk: Desk
    buckets: Mapping[int, DeskSums]
    paths: Mapping[str, DeskSums]
    waits: Mapping[int, int]
    repeated: int

    @cached_property
    def total(self) -> DeskSums:
        """The sums over the whole period."""
        return DeskSums.total(self.buckets.values())


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def period_of(since: datetime | None, until: datetime | None) -> dict[str, str | None]:
    """The period as the document states it (UTC, ISO 8601; null for an open end)."""
    return {"since": _iso(since), "until": _iso(until)}


def desk_figures(data: DeskData) -> dict[str, Any]:
    """Every figure of one desk over the period, under the fixed field names."""
    total = data.total
    figures = summable_figures(total)
    cost_sums = costs.CostSums(
        total.billed_minutes, total.caller_talk_seconds, total.answered, total.agent_seconds
    )
    total_cost = costs.total_cost(data.desk, cost_sums)
    return {
        "desk": data.desk.name,
        "label": data.desk.label,
        "timezone": data.desk.timezone,
        "currency": costs.currency(data.desk),
        "offered": figures["offered"],
        "answered": figures["answered"],
        "abandoned": figures["abandoned"],
        "short_abandoned": figures["short_abandoned"],
        "abandonment_rate": figures["abandonment_rate"],
        "asa": figures["asa"],
        "wait_p50": nearest_rank(data.waits, 50),
        "wait_p90": nearest_rank(data.waits, 90),
        "service_level": figures["service_level"],
        "aht": figures["aht"],
        "overflows": figures["overflows"],
        "repeated": data.repeated,
        "repeat_rate": ratio(data.repeated, total.answered),
        "csat": figures["csat"],
        "csat_top_two": figures["csat_top_two"],
        "csat_responses": figures["csat_responses"],
        "csat_response_rate": figures["csat_response_rate"],
        "total_cost": total_cost,
        "cost_per_call": ratio(total_cost, total.answered),
        "cost_per_resolved_call": ratio(total_cost, total.answered - data.repeated),
    }


def _direction(name: str, difference: float, words: tuple[str, str] = ("higher", "lower")) -> str:
    return f"{name} is {words[0] if difference > 0 else words[1]}"


def _row(metric: str, kind: str, unit: str, a: Any, b: Any) -> dict[str, Any]:
    return {
        "metric": metric,
        "kind": kind,
        "unit": unit,
        "a": a,
        "b": b,
        "difference": a - b if a is not None and b is not None else None,
        "ci_low": None,
        "ci_high": None,
        "significant": None,
        "verdict": "not enough data",
    }


def _with_interval(
    row: dict[str, Any], interval: tuple[float, float] | None, amount: str, first: str
) -> dict[str, Any]:
    """The row with its 95% interval, whether it excludes 0, and the verdict in words (desk `first` first)."""
    difference = row["difference"]
    if difference is None:
        return row
    if interval is None:
        row["verdict"] = f"difference {amount}; too few calls for an interval"
        return row
    low, high = interval
    significant = not low <= 0 <= high
    verdict = f"{_direction(first, difference)} by {amount} ({SIGNIFICANT})" if significant else NO_DIFFERENCE
    row.update(ci_low=low, ci_high=high, significant=significant, verdict=verdict)
    return row


def estimate_row(
    metric: str,
    names: tuple[str, str],
    a: float | None,
    b: float | None,
    interval: tuple[float, float] | None,
) -> dict[str, Any]:
    """A rate's or a mean's row: both values, the difference, its 95% interval and the verdict."""
    kind = "rate" if metric in RATE_METRICS else "mean"
    row = _row(metric, kind, unit_of(metric), a, b)
    return _with_interval(row, interval, amount_text(metric, row["difference"] or 0), names[0])


def _rate_row(metric: str, names: tuple[str, str], parts: tuple[tuple[int, int], tuple[int, int]]) -> Any:
    (x1, n1), (x2, n2) = parts
    return estimate_row(metric, names, ratio(x1, n1), ratio(x2, n2), newcombe(x1, n1, x2, n2))


def _mean_row(metric: str, names: tuple[str, str], parts: tuple[tuple[int, int, int], ...]) -> Any:
    (n1, s1, q1), (n2, s2, q2) = parts
    interval = None
    if n1 >= 2 and n2 >= 2:
        interval = welch(n1, s1 / n1, sample_variance(n1, s1, q1), n2, s2 / n2, sample_variance(n2, s2, q2))
    return estimate_row(metric, names, ratio(s1, n1), ratio(s2, n2), interval)


def unpriced_row(metric: str, why: str) -> dict[str, Any]:
    """A cost's row in a mode that cannot price its calls: no values, and why."""
    return _row(metric, "cost", "money", None, None) | {"verdict": why}


def count_row(metric: str, names: tuple[str, str], a: int, b: int) -> dict[str, Any]:
    row = _row(metric, "count", unit_of(metric), a, b)
    difference = a - b
    row["verdict"] = (
        f"{names[0]} has {abs(difference)} {'more' if difference > 0 else 'fewer'} than {names[1]}"
        if difference
        else "the same"
    )
    return row


def _cost_row(
    metric: str, names: tuple[str, str], currencies: tuple[str | None, str | None], a: Any, b: Any
) -> Any:
    unit = currencies[0] if currencies[0] is not None and currencies[0] == currencies[1] else None
    same = unit is not None
    row = _row(metric, "cost", unit or "money", a, b)
    if not same:
        row["difference"] = None
        shown = ", ".join(c or "no cost model" for c in currencies)
        row["verdict"] = f"not compared: different currencies ({shown})"
    elif row["difference"] is not None:
        difference = row["difference"]
        row["verdict"] = (
            f"{_direction(names[0], difference)} by {abs(difference):.2f} {currencies[0]} "
            "(no interval: costs are totals from configured prices, not a sample estimate)"
            if difference
            else "the same (no interval: costs come from configured prices)"
        )
    return row


COUNT_METRICS = ("offered", "answered", "abandoned", "short_abandoned", "overflows")
RATE_METRICS = ("abandonment_rate", "service_level", "repeat_rate", "csat_top_two", "csat_response_rate")
MEAN_METRICS = ("asa", "aht", "csat")
COST_METRICS = ("total_cost", "cost_per_call", "cost_per_resolved_call")
ORDER = (
    "offered", "answered", "abandoned", "short_abandoned", "abandonment_rate", "asa", "service_level", "aht",
    "overflows", "repeat_rate", "csat", "csat_top_two", "csat_response_rate", "total_cost", "cost_per_call",
    "cost_per_resolved_call",
)  # fmt: skip


def rates_and_means(
    names: tuple[str, str], totals: tuple[DeskSums, DeskSums], repeated: tuple[int, int]
) -> Any:
    """The rows of the rates (Newcombe's interval) and means (Welch's) of two desks' sums, by metric."""
    rates = [rate_parts(t) | {"repeat_rate": (r, t.answered)} for t, r in zip(totals, repeated, strict=True)]
    means = [mean_parts(t) for t in totals]
    rows = {metric: _rate_row(metric, names, (rates[0][metric], rates[1][metric])) for metric in RATE_METRICS}
    for metric in MEAN_METRICS:
        rows[metric] = _mean_row(metric, names, (means[0][metric], means[1][metric]))
    return rows


def comparison(first: DeskData, second: DeskData, figures: tuple[dict[str, Any], dict[str, Any]]) -> Any:
    """One row per metric: both values, the difference, its 95% interval and a verdict in words."""
    names = (first.desk.name, second.desk.name)
    rows = rates_and_means(names, (first.total, second.total), (first.repeated, second.repeated))
    currencies = (figures[0]["currency"], figures[1]["currency"])
    for metric in COUNT_METRICS:
        rows[metric] = count_row(metric, names, figures[0][metric], figures[1][metric])
    for metric in COST_METRICS:
        rows[metric] = _cost_row(metric, names, currencies, figures[0][metric], figures[1][metric])
    return [rows[metric] for metric in ORDER]


def local_slices(
    buckets: Mapping[int, DeskSums], timezone: str
) -> tuple[dict[str, DeskSums], dict[str, DeskSums]]:
    """A desk's buckets summed per hour of day ("00".."23") and per day (YYYY-MM-DD) in one time zone.

    A UTC 15-minute bucket lies within one local hour, as every offset is a multiple of 15 minutes;
    zoneinfo gives each bucket's offset, DST included.
    """
    zone = ZoneInfo(timezone)
    hours: dict[str, list[DeskSums]] = {}
    days: dict[str, list[DeskSums]] = {}
    for bucket, sums in buckets.items():
        moment = datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC).astimezone(zone)
        hours.setdefault(f"{moment.hour:02d}", []).append(sums)
        days.setdefault(moment.date().isoformat(), []).append(sums)
    return (
        {key: DeskSums.total(many) for key, many in hours.items()},
        {key: DeskSums.total(many) for key, many in days.items()},
    )


def _rows(keys: list[str], desks: tuple[DeskData, DeskData], grouped: tuple[dict[str, DeskSums], ...]) -> Any:
    return [
        {
            "key": key,
            "desks": {
                data.desk.name: breakdown_figures(groups.get(key, DeskSums()))
                for data, groups in zip(desks, grouped, strict=True)
            },
        }
        for key in keys
    ]


def _days_between(days: set[str]) -> list[str]:
    if not days:
        return []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


Slices = tuple[dict[str, DeskSums], dict[str, DeskSums]]  # per hour of day, per day


def breakdowns(
    first: DeskData, second: DeskData, timezone: str, slices: tuple[Slices, Slices] | None = None
) -> dict[str, Any]:
    """Figures per hour of day (all 24) and per day (first to last, no gaps) in one time zone, so both
    desks' hours line up (`slices`: the desks' local_slices when known), and per menu path."""
    desks = (first, second)
    if slices is None:
        slices = (local_slices(first.buckets, timezone), local_slices(second.buckets, timezone))
    (hours_a, days_a), (hours_b, days_b) = slices
    offered: dict[str, int] = {}
    for data in desks:
        for path, sums in data.paths.items():
            offered[path] = offered.get(path, 0) + sums.offered
    paths = sorted(offered, key=lambda path: (-offered[path], path))
    return {
        "hour": _rows([f"{h:02d}" for h in range(24)], desks, (hours_a, hours_b)),
        "day": _rows(_days_between(set(days_a) | set(days_b)), desks, (days_a, days_b)),
        "path": _rows(paths, desks, (dict(first.paths), dict(second.paths))),
    }
