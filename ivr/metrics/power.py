"""How many calls per desk a two-sided test needs to detect a difference (Fleiss's normal formulas) (pure).
"Not significant" then reads as "not yet known: about N calls per desk would tell"."""

from __future__ import annotations

import math
from statistics import NormalDist

from .checks import finite, share, within_range


def _quantiles(alpha: float, power: float) -> tuple[float, float]:
    """z_{1-α/2} and z_{power} of the standard normal."""
    alpha, power = share("alpha", alpha), share("power", power)
    normal = NormalDist()
    return normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)


def _whole(n: float, least: int) -> int:
    """n rounded up (a hair of float noise above a whole number does not add one), at least `least`."""
    return max(least, math.ceil(round(n, 9)))


def calls_for_rates(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Calls per desk to tell rate p1 from p2 (pooled-variance formula, no continuity correction).

    n = (z_{1-α/2}·√(2·p̄·q̄) + z_{power}·√(p1·q1 + p2·q2))² / (p1 - p2)²; None when p1 = p2.
    """
    p1, p2 = within_range("p1", p1, 0, 1), within_range("p2", p2, 0, 1)
    z_alpha, z_power = _quantiles(alpha, power)
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return _whole(spread**2 / (p1 - p2) ** 2, 1)


def calls_for_means(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Calls per desk to tell two means delta apart with standard deviation sd; None when delta is 0.

    n = 2·(z_{1-α/2} + z_{power})²·σ²/Δ², at least 2 (a mean's interval needs two values).
    """
    sd, delta = within_range("sd", sd, 0, math.inf), finite("delta", delta)
    z_alpha, z_power = _quantiles(alpha, power)
    if delta == 0:
        return None
    return _whole(2 * (z_alpha + z_power) ** 2 * sd**2 / delta**2, 2)
