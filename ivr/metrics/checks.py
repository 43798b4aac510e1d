"""Checks of the numbers the statistics and staffing functions are given, with errors naming them (pure)."""

from __future__ import annotations

import math


def finite(name: str, value: object) -> float:
    """The value as a float; ValueError naming it unless it is a finite int or float (bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not a number")
    return float(value)


def within_range(name: str, value: object, low: float, high: float, *, open_low: bool = False) -> float:
    """A finite number from low (excluded when open_low) to high, or ValueError saying which range."""
    number = finite(name, value)
    if not (low < number if open_low else low <= number) or number > high:
        shown = f"more than {low:g}" if open_low else f"from {low:g}"
        raise ValueError(f"{name}: {value!r} must be {shown} {'and at most' if open_low else 'to'} {high:g}")
    return number


def share(name: str, value: object) -> float:
    """A share strictly between 0 and 1 (a target, a significance level, a power), or ValueError."""
    number = finite(name, value)
    if not 0 < number < 1:
        raise ValueError(f"{name}: {value!r} must be a share between 0 and 1 (0.8 is 80%)")
    return number
