"""Calls per desk to detect a difference, against the standard formula's published values."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from ivr.metrics.power import calls_for_means, calls_for_rates


def test_rates_match_the_pooled_formula_by_hand():
    # Fleiss, Statistical Methods for Rates and Proportions (ch. 4, no continuity correction):
    # p1 = 0.10, p2 = 0.15, z = 1.959964 and 0.841621:
    # (1.959964·√(2·0.125·0.875) + 0.841621·√(0.09 + 0.1275))² / 0.05²
    # = (0.916690 + 0.392506)² / 0.0025 = 685.6, so 686 calls per desk
    assert calls_for_rates(0.10, 0.15) == 686
    assert calls_for_rates(0.15, 0.10) == 686


def test_rates_match_r_power_prop_test():
    # R's documentation of stats::power.prop.test, which solves the same normal power equation:
    # power.prop.test(p1 = .50, p2 = .75, power = .90)  # => n = 76.7
    assert calls_for_rates(0.50, 0.75, power=0.90) == 77


def _power(n, p1, p2, alpha=0.05):
    """The power of the two-sided pooled z test with n per group (the far tail left out, as Fleiss does)."""
    normal = NormalDist()
    mean = (p1 + p2) / 2
    z = normal.inv_cdf(1 - alpha / 2)
    spread = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return normal.cdf((abs(p1 - p2) * math.sqrt(n) - z * math.sqrt(2 * mean * (1 - mean))) / spread)


@pytest.mark.parametrize(("p1", "p2"), [(0.08, 0.12), (0.5, 0.45), (0.02, 0.03), (0.9, 0.95)])
def test_the_calls_give_the_power_asked_for_and_one_call_fewer_does_not(p1, p2):
    n = calls_for_rates(p1, p2, power=0.8)
    assert n is not None
    assert _power(n, p1, p2) >= 0.8 > _power(n - 1, p1, p2)


def test_means_match_the_rule_of_sixteen():
    # n = 2(z_0.975 + z_0.8)² σ²/Δ² = 15.70 σ²/Δ²: Lehr's "16 / Δ²" (van Belle, Statistical Rules of
    # Thumb, 2nd ed., rule 2.3) rounds the same constant up
    assert calls_for_means(1, 1) == 16
    assert calls_for_means(60, 15) == math.ceil(15.6978 * 16)
    assert calls_for_means(120, -30) == calls_for_means(120, 30)
    assert calls_for_means(0, 5) == 2  # no spread: the least a mean's interval needs


def test_no_difference_needs_no_sample_size():
    assert calls_for_rates(0.2, 0.2) is None
    assert calls_for_means(30, 0) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: calls_for_rates(1.2, 0.5), "p1: 1.2 must be from 0 to 1"),
        (lambda: calls_for_rates(0.1, 0.2, alpha=0), "alpha: 0 must be a share between 0 and 1"),
        (lambda: calls_for_rates(0.1, 0.2, power=1.5), "power: 1.5 must be a share"),
        (lambda: calls_for_means(-1, 2), "sd: -1 must be from 0"),
        (lambda: calls_for_means(1, float("inf")), "delta: inf is not a number"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
