"""Branch conditions: tests on call variables and on the time of day."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from .schedules import time_matches


def _numeric(value: str, test: Callable[[float], bool]) -> bool:
    try:
        return bool(test(float(value)))
    except ValueError:
        return False


COMPARATORS: dict[str, Callable[[str, Any], bool]] = {
    "equals": lambda value, x: value == x,
    "not_equals": lambda value, x: value != x,
    "in": lambda value, x: value in x,
    "matches": lambda value, x: re.search(x, value) is not None,
    "starts_with": lambda value, x: value.startswith(x),
    "less_than": lambda value, x: _numeric(value, lambda n: n < x),
    "greater_than": lambda value, x: _numeric(value, lambda n: n > x),
}


def _var_test(cond: Mapping[str, Any], value: str | None) -> bool:
    """Whether every comparison in `cond` holds for `value` (None when the variable is unset)."""
    if "is_set" in cond and (value is not None) is not bool(cond["is_set"]):
        return False
    if value is None:  # only a bare "is_set": false holds for an unset variable
        return "is_set" in cond and not COMPARATORS.keys() & cond.keys()
    return all(bool(test(value, cond[name])) for name, test in COMPARATORS.items() if name in cond)


def evaluate(cond: Mapping[str, Any], variables: Mapping[str, str], now: datetime) -> bool:
    """Whether a condition holds for these variables at this moment."""
    if "all" in cond:
        return all(evaluate(c, variables, now) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, variables, now) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], variables, now)
    if "time" in cond:
        return time_matches(cond["time"], now)
    return _var_test(cond, variables.get(cond["var"]))


def variables_used(cond: Mapping[str, Any]) -> Iterator[str]:
    """The variables a condition reads (an is_set test reads none: it asks whether one exists)."""
    for key in ("all", "any"):
        for sub in cond.get(key, ()):
            yield from variables_used(sub)
    if "not" in cond:
        yield from variables_used(cond["not"])
    if "var" in cond and "is_set" not in cond:
        yield cond["var"]
