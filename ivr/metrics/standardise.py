"""Like-for-like figures of desks that take different work: direct standardisation over segments with the
two desks' combined mix as the standard, stratified variances, the chi-square test of their mixes (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .stats import Z, chi_square_tail

Estimate = tuple[float, float]  # (value, variance)


def standard_weights(
    offered_a: Mapping[str, int], offered_b: Mapping[str, int]
) -> tuple[dict[str, float], list[str]]:
    """Each segment both desks served: its share of their combined calls; and the segments left out.

    A segment only one desk served has no like-for-like counterpart, so it is left out (and listed).
    """
    served_a = {segment for segment, calls in offered_a.items() if calls > 0}
    served_b = {segment for segment, calls in offered_b.items() if calls > 0}
    shared = sorted(served_a & served_b)
    total = sum(offered_a[s] + offered_b[s] for s in shared)
    weights = {s: (offered_a[s] + offered_b[s]) / total for s in shared}
    return weights, sorted(served_a ^ served_b)


def standardised_rate(strata: Sequence[tuple[float, int, int]]) -> Estimate | None:
    """Σ w·x/n and its variance Σ w²·p̃(1-p̃)/(n+2), p̃ = (x+1)/(n+2), over (weight, x, n); None if a weighted
    stratum has no calls."""
    if not strata or any(n <= 0 for weight, _x, n in strata if weight > 0):
        return None
    value = variance = 0.0
    for weight, x, n in strata:
        if weight > 0:
            value += weight * x / n
            # Agresti & Caffo (2000): one success and one failure added, so a stratum at 0 or 1 still counts
            adjusted = (x + 1) / (n + 2)
            variance += weight * weight * adjusted * (1 - adjusted) / (n + 2)
    return value, variance


def standardised_mean(strata: Sequence[tuple[float, int, float, float]]) -> Estimate | None:
    """Σ w·mean and its variance Σ w²·s²/n over (weight, n, mean, sample variance); None below 2 calls."""
    if not strata or any(n < 2 for weight, n, _mean, _var in strata if weight > 0):
        return None
    value = sum(weight * mean for weight, _n, mean, _var in strata if weight > 0)
    variance = sum(weight * weight * var / n for weight, n, _mean, var in strata if weight > 0)
    return value, variance


def difference_interval(a: Estimate, b: Estimate) -> tuple[float, float]:
    """The 95% normal interval of a - b for independent estimates (value, variance): the variances add."""
    difference = a[0] - b[0]
    half = Z * math.sqrt(a[1] + b[1])
    return difference - half, difference + half


class ChiSquare(NamedTuple):
    """Pearson's chi-square test of homogeneity: statistic, degrees of freedom, p-value, least expected count.

    df = 0 (statistic 0, p-value 1) when there is nothing to compare: under two segments or a desk with none.
    """

    statistic: float
    df: int
    p_value: float
    min_expected: float  # Cochran: the test is rough when an expected count is under 5


def chi_square_homogeneity(table: Mapping[str, tuple[int, int]]) -> ChiSquare:
    """Whether two desks' calls spread alike over segments: a segment -> (calls at A, calls at B) table."""
    rows = [(a, b) for a, b in table.values() if a < 0 or b < 0 or a + b > 0]
    if any(a < 0 or b < 0 for a, b in rows):
        raise ValueError("chi-square: counts must be 0 or more")
    columns = (sum(a for a, _ in rows), sum(b for _, b in rows))
    total = sum(columns)
    if len(rows) < 2 or 0 in columns:
        return ChiSquare(0.0, 0, 1.0, 0.0)
    statistic, least = 0.0, math.inf
    for row in rows:
        for observed, column in zip(row, columns, strict=True):
            expected = sum(row) * column / total
            least = min(least, expected)
            statistic += (observed - expected) ** 2 / expected
    df = len(rows) - 1
    return ChiSquare(statistic, df, chi_square_tail(statistic, df), least)
