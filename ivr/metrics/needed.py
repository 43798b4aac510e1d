"""How many more calls would settle a difference that is not significant yet, at 80% power and 5%
significance, and how many days that is at the current arrival rate (pure; ivr.metrics.power)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .definitions import DeskSums, mean_parts, rate_parts
from .power import calls_for_means, calls_for_rates
from .stats import sample_variance


def _have(totals: tuple[DeskSums, DeskSums], repeated: tuple[int, int], metric: str) -> tuple[int, int]:
    """Each desk's calls so far in the metric's denominator (its sample size)."""
    found = []
    for sums, repeats in zip(totals, repeated, strict=True):
        rates = rate_parts(sums) | {"repeat_rate": (repeats, sums.answered)}
        found.append(rates[metric][1] if metric in rates else mean_parts(sums)[metric][0])
    return found[0], found[1]


def pooled_sd(totals: tuple[DeskSums, DeskSums], metric: str) -> float | None:
    """The standard deviation of a mean's values, pooled over both desks; None unless each has 2 values."""
    variances = []
    for sums in totals:
        n, total, squares = mean_parts(sums)[metric]
        if n < 2:
            return None
        variances.append(sample_variance(n, total, squares))
    return math.sqrt(sum(variances) / 2)


def _rates_apart(a: float, b: float, size: float) -> tuple[float, float]:
    """Two rates `size` apart around the desks' mean rate, kept within 0..1."""
    middle = (a + b) / 2
    low, high = middle - size / 2, middle + size / 2
    if low < 0:
        return 0.0, size
    if high > 1:
        return 1 - size, 1.0
    return low, high


def power_of(
    row: Mapping[str, Any], totals: tuple[DeskSums, DeskSums], repeated: tuple[int, int],
    detect: Mapping[str, float], days: tuple[float, float] | None,
) -> dict[str, Any] | None:  # fmt: skip
    """The power section of a rate's or a mean's row that is not significant (None for any other row);
    `days`: the days on which each desk had calls (its arrival rate is its calls over them)."""
    if row["kind"] not in ("rate", "mean") or row["significant"] is not False:
        return None
    metric = row["metric"]
    requested = metric in detect
    size = detect[metric] if requested else abs(row["difference"])
    if not size:
        return None
    if row["kind"] == "rate":
        needed = calls_for_rates(*_rates_apart(row["a"], row["b"], size))
    else:
        sd = pooled_sd(totals, metric)
        needed = calls_for_means(sd, size) if sd is not None else None
    if needed is None:
        return None
    have = _have(totals, repeated, metric)
    more = [max(0, needed - n) for n in have]
    rates = [n / d for n, d in zip(have, days, strict=True)] if days else [0.0, 0.0]
    waits = [m / rate if rate else math.inf for m, rate in zip(more, rates, strict=True) if m]
    longest = max(waits, default=0.0)
    return {
        "size": size,
        "size_from": "requested" if requested else "observed",
        "calls_per_desk": needed,
        "more_per_desk": max(more),
        "days": math.ceil(longest) if days and math.isfinite(longest) else None,
    }
