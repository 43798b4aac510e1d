"""Cost at equal service: what each desk would cost per call if staffed, hour by hour, just enough to reach
the same service level, from its measured arrivals, handle time and callers' patience (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.costs import SECONDS_PER_HOUR, SECONDS_PER_MINUTE, CostSums, currency, total_cost
from ..engine.site import Desk
from .checks import share, within_range
from .definitions import DeskSums, ratio
from .erlang import Staffing, agents_needed

HOURS = tuple(f"{h:02d}" for h in range(24))
MODELS = ("erlang_c", "erlang_a")
MIN_HOUR_ABANDONS = 10  # fewer abandons in an hour of day give too noisy a patience: the desk's is used


@dataclass(frozen=True)
class DeskHours:
    """One desk as measured: its prices, its sums per hour of day ("00".."23"), days observed, repeats."""

    desk: Desk
    hours: Mapping[str, DeskSums]
    days: float
    repeated: int

    def __post_init__(self) -> None:
        within_range("days", self.days, 0, 100_000, open_low=True)
        unknown = sorted(set(self.hours) - set(HOURS))
        if unknown:
            raise ValueError(f"hours: {', '.join(unknown)} are not hours of the day (00 to 23)")


def _percent(target: float) -> str:
    return f"{target * 100:g}%"


def definitions(target: float = 0.8, within: float = 20) -> dict[str, str]:
    """How the equal_service section is computed, in words (keys equal_service_*, beside the report's own)."""
    return {
        f"equal_service_{key}" if key != "equal_service" else key: text
        for key, text in _words(target, within).items()
    }


def _words(target: float, within: float) -> dict[str, str]:
    """The definitions under short names (the summary, "equal_service", keeps its own)."""
    return {
        "equal_service": f"what each desk would cost if staffed, per hour of day, with the fewest agents "
        f"that answer {_percent(target)} of offered calls within {within:g} s, from its own measured "
        "traffic; the arrivals, handle time and patience are the desk's, so both desks give the same service",
        "arrivals": "calls_per_hour = offered calls in that hour of day in the desk's own time zone / the "
        "days on which the desk had calls (in its own zone), over the calls the comparison covers (covers); "
        "in the comparison each desk is then staffed for both desks' calls a day together (calls_per_day), "
        "spread over the hours as its own calls were: equal work, so neither gains from the economies of "
        "scale of a bigger queue",
        "aht": "talk_sum / talk_n of answered calls in that hour of day; the desk's whole-period AHT when "
        "the hour has no answered call with a talk time",
        "patience": "mean patience (s) = queued_seconds / abandoned (short abandons included): the "
        "exponential maximum-likelihood estimate from censored waits (θ = abandons / total time all "
        f"offered callers waited); the hour's own when it has at least {MIN_HOUR_ABANDONS} abandons, else "
        "the desk's over the whole period; null when the desk has no abandons, and Erlang A is then Erlang C "
        "(patience without end)",
        "erlang_c": "M/M/N, callers never hang up: load A = calls_per_hour x AHT / 3600 Erlangs; P(wait) = "
        "N·B / (N - A(1 - B)) with Erlang B from the recursion B_k = A·B_(k-1) / (k + A·B_(k-1)); "
        "service_level = 1 - P(wait)·e^(-(N - A)·t / AHT); asa = P(wait)·AHT / (N - A); occupancy = A / N",
        "erlang_a": "M/M/N+M (Palm), exponential patience: the stationary probabilities of the birth-death "
        "chain (births λ, deaths min(k, N)μ + max(k - N, 0)θ), summed until the rest is below e^-40 of the "
        "largest; service_level = share of offered calls answered within t (an abandon counts against it); "
        "asa = mean wait of answered calls; abandon_rate = share of offered calls that hang up waiting",
        "agents": "the fewest agents whose service level reaches the target, per hour of day with calls; "
        "agent_hours_per_day = their sum (hours without calls are not staffed)",
        "costs": "per day at that staffing, under the desk's prices: handling agent_hour = amount x agents "
        "(each staffed for the hour), handled_minute = amount x handled x AHT / 60, handled_call = amount x "
        "handled; telephony = telephony_per_minute x (the desk's measured caller-leg minutes per offered "
        "call x calls, plus 60 minutes per agent-hour when its agents sit on the agent line). handled = "
        "calls x (1 - abandon_rate); cost_per_call = cost / handled; cost_per_resolved_call = cost / "
        "(handled x (1 - repeat_rate)), repeat_rate = repeated / answered over the period",
        "source": "docs/metrics.md 'Staffing and cost at equal service'; Erlang C as in Gans, Koole & "
        "Mandelbaum, 'Telephone call centers: tutorial, review, and research prospects' (2003); Erlang A "
        "as in Mandelbaum & Zeltyn, 'The Palm/Erlang-A queue, with applications to call centers' (2007)",
    }


@dataclass(frozen=True)
class _Measured:
    """What a desk's staffing is computed from, over the whole period."""

    aht: float | None
    patience: float | None
    caller_minutes: float  # billed minutes of caller legs per offered call
    agent_line: bool  # its agents are on the agent line (agent legs), billed for every staffed minute
    repeat_rate: float | None


def _aht(sums: DeskSums) -> float | None:
    return ratio(sums.talk_sum, sums.talk_n)


def _patience(sums: DeskSums) -> float | None:
    return sums.queued_seconds / sums.abandoned if sums.abandoned and sums.queued_seconds else None


def _measured(data: DeskHours) -> _Measured:
    total = DeskSums.total(data.hours.values())
    caller_minutes = max(0.0, total.billed_minutes - total.agent_seconds / SECONDS_PER_MINUTE)
    return _Measured(
        aht=_aht(total),
        patience=_patience(total),
        caller_minutes=caller_minutes / total.offered if total.offered else 0.0,
        agent_line=total.agent_seconds > 0,
        repeat_rate=ratio(data.repeated, total.answered),
    )


def _hour_cost(desk: Desk, measured: _Measured, calls: float, aht: float, staffing: Staffing) -> float:
    """What one hour of the day costs at this staffing (per day), priced by the desk's own cost model."""
    handled = calls * (1 - (staffing.abandon_rate or 0.0))
    agent_minutes = staffing.agents * 60 if measured.agent_line else 0
    modelled = CostSums(
        billed_minutes=measured.caller_minutes * calls + agent_minutes,
        caller_talk_seconds=handled * aht,
        answered=handled,
        agent_seconds=staffing.agents * SECONDS_PER_HOUR,  # agent_hour: each agent staffed for the hour
    )
    return total_cost(desk, modelled)


def _figures(staffing: Staffing, cost: float) -> dict[str, Any]:
    return {
        "agents": staffing.agents,
        "service_level": staffing.service_level,
        "asa": staffing.asa,
        "occupancy": staffing.occupancy,
        "abandon_rate": staffing.abandon_rate,
        "cost": cost,
    }


def _hour(
    data: DeskHours, measured: _Measured, key: str, target: float, within: float, scale: float
) -> dict[str, Any]:  # fmt: skip
    """One hour of the day: its traffic (times `scale`), and the staffing and cost under each model."""
    sums = data.hours[key]
    calls = sums.offered / data.days * scale
    aht = _aht(sums) or measured.aht
    own = _patience(sums) if sums.abandoned >= MIN_HOUR_ABANDONS else None
    patience = own or measured.patience
    assert aht is not None  # the caller checked the desk has a handle time
    by_c = agents_needed(calls, aht, target, within)
    if patience is None:  # no abandons: Erlang A with endless patience is Erlang C, and nobody hangs up
        by_a = Staffing(by_c.agents, by_c.service_level, by_c.asa, by_c.occupancy, by_c.p_wait, 0.0)
    else:
        by_a = agents_needed(calls, aht, target, within, patience)
    return {
        "hour": key,
        "calls_per_hour": calls,
        "aht": aht,
        "patience": patience,
        "erlang_c": _figures(by_c, _hour_cost(data.desk, measured, calls, aht, by_c)),
        "erlang_a": _figures(by_a, _hour_cost(data.desk, measured, calls, aht, by_a)),
    }


def _per_day(hours: list[dict[str, Any]], model: str, repeat_rate: float | None) -> dict[str, Any]:
    """A model's totals over the hours of a day, and the cost per handled and per resolved call."""
    calls = sum(h["calls_per_hour"] for h in hours)
    handled = sum(h["calls_per_hour"] * (1 - (h[model]["abandon_rate"] or 0.0)) for h in hours)
    cost = sum(h[model]["cost"] for h in hours)
    resolved = handled * (1 - repeat_rate) if repeat_rate is not None else None
    return {
        "agent_hours_per_day": sum(h[model]["agents"] for h in hours),
        "calls_per_day": calls,
        "handled_per_day": handled,
        "service_level": ratio(sum(h["calls_per_hour"] * h[model]["service_level"] for h in hours), calls),
        "abandon_rate": ratio(sum(h["calls_per_hour"] * h[model]["abandon_rate"] for h in hours), calls)
        if model == "erlang_a"
        else None,
        "cost_per_day": cost,
        "cost_per_call": ratio(cost, handled),
        "cost_per_resolved_call": ratio(cost, resolved) if resolved is not None else None,
    }


def calls_per_day(data: DeskHours) -> float:
    """The desk's offered calls per day observed."""
    return sum(sums.offered for sums in data.hours.values()) / data.days


def desk_section(
    data: DeskHours, target: float, within: float, volume: float | None = None
) -> dict[str, Any]:  # fmt: skip
    """One desk's hours and per-day totals under Erlang C and Erlang A; `why` says when it cannot be done.
    With `volume`, staffed for that many calls a day, spread over its hours as its own calls were."""
    measured = _measured(data)
    own = calls_per_day(data)
    scale = volume / own if volume is not None and own else 1.0
    section: dict[str, Any] = {
        "desk": data.desk.name,
        "currency": currency(data.desk),
        "days": data.days,
        "aht": measured.aht,
        "patience": measured.patience,
        "repeat_rate": measured.repeat_rate,
        "hours": [],
        "erlang_c": None,
        "erlang_a": None,
        "why": None,
    }
    if not any(sums.offered for sums in data.hours.values()):
        section["why"] = "no offered calls"
    elif measured.aht is None:
        section["why"] = "no answered call with a talk time, so no handle time to staff for"
    if section["why"] is not None:
        return section
    busy = [key for key in HOURS if data.hours.get(key, DeskSums()).offered]
    hours = [_hour(data, measured, key, target, within, scale) for key in busy]
    section["hours"] = hours
    for model in MODELS:
        section[model] = _per_day(hours, model, measured.repeat_rate)
    return section


def _money(value: float | None, unit: str | None) -> str:
    if value is None:
        return "an unknown amount (every call repeated)"
    return f"{value:.2f} {unit or '(no currency)'}"


def verdict(
    sections: tuple[dict[str, Any], dict[str, Any]], target: float, within: float, covering: str = ""
) -> str:
    """'at equal service (80% within 20 s), A costs X per resolved call and B Y', or why it cannot be said;
    `covering` (e.g. "on the calls a split assigned") follows the service level."""
    head = f"at equal service ({_percent(target)} within {within:g} s){', ' + covering if covering else ''}"
    for section in sections:
        if section["why"] is not None:
            return f"{head}: {section['desk']} cannot be costed: {section['why']}"
    (a, b), units = sections, (sections[0]["currency"], sections[1]["currency"])
    cost = {model: [s[model]["cost_per_resolved_call"] for s in sections] for model in MODELS}
    said = (
        f"{head}, {a['desk']} costs {_money(cost['erlang_a'][0], units[0])} per resolved call "
        f"and {b['desk']} {_money(cost['erlang_a'][1], units[1])}"
    )
    if units[0] is None or units[0] != units[1]:
        shown = ", ".join(unit or "no cost model" for unit in units)
        return f"{said}; they cannot be compared: different currencies ({shown})"
    return (
        f"{said} (Erlang A, with each desk's measured caller patience; Erlang C, nobody hanging up: "
        f"{_money(cost['erlang_c'][0], units[0])} and {_money(cost['erlang_c'][1], units[1])})"
    )


def equal_service(
    first: DeskHours, second: DeskHours, target: float = 0.8, within: float = 20, covering: str = "",
    same_volume: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The report's equal_service section: both desks' staffing and costs at the same service level
    (`covering`: which calls the hours hold, in words, said in the verdict and under "covers").

    With same_volume each desk is staffed for both desks' calls together (equal work: neither gains from
    a bigger queue's economies of scale), spread over the hours of the day as its own calls were.
    """
    share("target", target)
    within_range("within", within, 0, 86400)
    if first.desk.name == second.desk.name:
        raise ValueError(f"equal service: give two different desks, not {first.desk.name!r} twice")
    volume = calls_per_day(first) + calls_per_day(second) if same_volume else None
    sections = (desk_section(first, target, within, volume), desk_section(second, target, within, volume))
    units = (sections[0]["currency"], sections[1]["currency"])
    if volume is not None:
        taking = f"each desk taking both desks' {volume:,.0f} calls a day"
        covering = f"{covering}, {taking}" if covering else taking
    return {
        "target": target,
        "within": within,
        "calls_per_day": volume,
        "desks": {section["desk"]: section for section in sections},
        "comparable": units[0] is not None and units[0] == units[1],
        "covers": covering or None,
        "verdict": verdict(sections, target, within, covering),
    }
