"""The adjusted comparison: both desks' rates and means directly standardised to their combined case mix
over the segments both serve, with stratified 95% intervals (pure; Rothman, Greenland & Lash)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import costs
from ..engine.site import Desk
from .definitions import DeskSums, mean_parts, rate_parts
from .report import (
    COST_METRICS,
    COUNT_METRICS,
    MEAN_METRICS,
    ORDER,
    RATE_METRICS,
    count_row,
    estimate_row,
    unpriced_row,
)
from .standardise import Estimate, difference_interval, standardised_mean, standardised_rate
from .stats import sample_variance

NOT_STANDARDISED = "not standardised (see the raw mode, and cost at equal service below)"


def _rate_strata(
    weights: Mapping[str, float], sums: Mapping[str, DeskSums], repeated: Mapping[str, int], metric: str
) -> list[tuple[float, int, int]]:
    strata = []
    for segment, weight in weights.items():
        mine = sums.get(segment, DeskSums())
        parts = rate_parts(mine) | {"repeat_rate": (repeated.get(segment, 0), mine.answered)}
        x, n = parts[metric]
        strata.append((weight, x, n))
    return strata


def _mean_strata(
    weights: Mapping[str, float], sums: Mapping[str, DeskSums], metric: str
) -> list[tuple[float, int, float, float]]:
    strata = []
    for segment, weight in weights.items():
        n, total, squares = mean_parts(sums.get(segment, DeskSums()))[metric]
        mean = total / n if n else 0.0
        strata.append((weight, n, mean, sample_variance(n, total, squares) if n >= 2 else 0.0))
    return strata


def estimates(
    weights: Mapping[str, float], sums: Mapping[str, DeskSums], repeated: Mapping[str, int]
) -> dict[str, Estimate | None]:
    """Each rate and mean of one desk, standardised: (value, variance), or None when a stratum is empty."""
    found: dict[str, Estimate | None] = {}
    for metric in RATE_METRICS:
        found[metric] = standardised_rate(_rate_strata(weights, sums, repeated, metric)) if weights else None
    for metric in MEAN_METRICS:
        found[metric] = standardised_mean(_mean_strata(weights, sums, metric)) if weights else None
    return found


def desk_figures(
    desk: Desk, weights: Mapping[str, float], sums: Mapping[str, DeskSums], repeated: Mapping[str, int]
) -> tuple[dict[str, Any], dict[str, Estimate | None]]:
    """One desk's figures in the adjusted mode (counts: the calls of the common segments), its estimates."""
    used = DeskSums.total(sums.get(segment, DeskSums()) for segment in weights)
    repeats = sum(repeated.get(segment, 0) for segment in weights)
    found = estimates(weights, sums, repeated)
    figures: dict[str, Any] = {
        "desk": desk.name,
        "label": desk.label,
        "timezone": desk.timezone,
        "currency": costs.currency(desk),
        "offered": used.offered,
        "answered": used.answered,
        "abandoned": used.abandoned,
        "short_abandoned": used.short_abandoned,
        "overflows": used.overflows,
        "repeated": repeats,
        "csat_responses": used.csat_n,
        "wait_p50": None,
        "wait_p90": None,
    }
    for metric, estimate in found.items():
        figures[metric] = estimate[0] if estimate is not None else None
    return figures | dict.fromkeys(COST_METRICS), found


def comparison(
    names: tuple[str, str], figures: tuple[dict[str, Any], dict[str, Any]],
    found: tuple[dict[str, Estimate | None], dict[str, Estimate | None]],
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows of the adjusted mode: counts of the calls used, standardised rates and means with their
    stratified 95% intervals, costs not standardised."""
    rows: dict[str, dict[str, Any]] = {}
    for metric in COUNT_METRICS:
        rows[metric] = count_row(metric, names, figures[0][metric], figures[1][metric])
    for metric in (*RATE_METRICS, *MEAN_METRICS):
        a, b = found[0][metric], found[1][metric]
        interval = difference_interval(a, b) if a is not None and b is not None else None
        rows[metric] = estimate_row(metric, names, figures[0][metric], figures[1][metric], interval)
    for metric in COST_METRICS:
        rows[metric] = unpriced_row(metric, NOT_STANDARDISED)
    return [rows[metric] for metric in ORDER]
