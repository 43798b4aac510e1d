"""The names and units of the desk metrics, one set for the web pages, the API and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TIMES = frozenset({"asa", "wait_p50", "wait_p90", "aht"})
COSTS = frozenset({"total_cost", "cost_per_call", "cost_per_resolved_call"})
RATES = frozenset({"abandonment_rate", "service_level", "repeat_rate", "csat_top_two", "csat_response_rate"})
SCORES = frozenset({"csat"})
LABELS = {
    "offered": "Offered calls",
    "answered": "Answered",
    "abandoned": "Abandoned",
    "short_abandoned": "Short abandons (not in the rates)",
    "abandonment_rate": "Abandonment rate",
    "asa": "Average speed of answer (ASA)",
    "wait_p50": "Wait of answered calls, median (p50)",
    "wait_p90": "Wait of answered calls, p90",
    "service_level": "Service level",
    "aht": "Average handle time (AHT)",
    "overflows": "Overflows",
    "repeated": "Answered calls repeated",
    "repeat_rate": "Repeat-call rate",
    "csat": "CSAT, mean score (1-5)",
    "csat_top_two": "CSAT top-two box (4-5)",
    "csat_responses": "Survey responses",
    "csat_response_rate": "Survey response rate",
    "total_cost": "Total cost",
    "cost_per_call": "Cost per handled call",
    "cost_per_resolved_call": "Cost per resolved call",
}


def kind_of(metric: str) -> str:
    """How a figure is read: rate, time, score, cost or count."""
    if metric in RATES:
        return "rate"
    if metric in TIMES:
        return "time"
    if metric in SCORES:
        return "score"
    return "cost" if metric in COSTS else "count"


UNITS = {"rate": "share", "time": "s", "score": "score 1-5", "count": "calls"}  # a cost's unit: its currency


def unit_of(metric: str) -> str:
    """The unit a report row names for a figure (costs: see the row, which carries the currency)."""
    return UNITS.get(kind_of(metric), "money")


def amount_text(metric: str, value: float) -> str:
    """The size of a difference in words, for a verdict: '10.0 points', '69.4 s', '0.25'."""
    kind = kind_of(metric)
    if kind == "rate":
        return f"{abs(value) * 100:.1f} points"
    if kind == "time":
        return f"{abs(value):.1f} s"
    return f"{abs(value):.2f}"


def _with_unit(metric: str, value: Any, currency: str | None, sign: str) -> str:
    """A figure with its unit; sign '+' writes a difference (percentage points for rates)."""
    if value is None:
        return "–"
    kind = kind_of(metric)
    if kind == "rate":
        return f"{value * 100:{sign}.1f} {'pp' if sign else '%'}"
    if kind == "time":
        return f"{value:{sign},.1f} s"
    if kind == "score":
        return f"{value:{sign}.2f}"
    if kind == "cost":
        return f"{value:{sign},.2f} {currency or ''}".strip()
    return f"{value:{sign},}"


def value_text(metric: str, value: Any, currency: str | None = None) -> str:
    """A figure in words and units ('–' where it is not defined)."""
    return _with_unit(metric, value, currency, "")


def difference_text(metric: str, value: Any, currency: str | None = None) -> str:
    """A difference A - B with its sign and unit (percentage points for rates)."""
    return _with_unit(metric, value, currency, "+")


def interval_text(metric: str, low: Any, high: Any, currency: str | None = None) -> str:
    """A 95% interval, or '–' for figures without one."""
    if low is None or high is None:
        return "–"
    return f"{difference_text(metric, low, currency)} to {difference_text(metric, high, currency)}"


def label_of(metric: str, definitions: Mapping[str, Any]) -> str:
    """The figure's name for people, with the thresholds the report used."""
    label = LABELS.get(metric, metric.replace("_", " ").capitalize())
    if metric == "service_level" and "service_level_seconds" in definitions:
        return f"{label} (answered within {definitions['service_level_seconds']} s)"
    if metric in ("repeat_rate", "repeated") and "repeat_days" in definitions:
        return f"{label} (within {definitions['repeat_days']} days)"
    if metric == "short_abandoned" and "short_abandon_seconds" in definitions:
        return f"Short abandons (under {definitions['short_abandon_seconds']} s, not in the rates)"
    return label


def power_text(row: Mapping[str, Any]) -> str | None:
    """What a row that is not significant yet needs, in words (None when it has no power section)."""
    power = row.get("power")
    if not power:
        return None
    size = amount_text(row["metric"], power["size"])
    wanted = "the difference asked for" if power["size_from"] == "requested" else "the observed difference"
    if not power["more_per_desk"]:
        calls = power["calls_per_desk"]
        return f"{calls:,} calls per desk detect {wanted} ({size}) at 80% power, and the desks have them"
    days = f" (≈ {power['days']:,} days with calls)" if power["days"] is not None else ""
    more = power["more_per_desk"]
    return f"not yet known: about {more:,} more calls per desk{days} would detect {wanted} ({size})"
