"""Contact-centre metric definitions (Amazon Connect, Flex Insights) over summed call figures (pure).
The same words as docs/metrics.md, so a figure can be recomputed from /api/calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..engine import actions, agent_line
from ..engine.actions import BRIDGED

# Twilio QueueResult values (for dial-type desks the voice layer stores 'bridged' for an answered dial).
ANSWERED_RESULTS = BRIDGED  # the queue results of an answered call
ABANDONED_RESULT = actions.ABANDONED
LEFT_RESULT = "leave"  # sent away by the desk's overflow (max wait or queue size) to voicemail or a callback
AGENT_ROLE = agent_line.AGENT_ROLE
CALLER_ROLE = "caller"  # a person who called in; a campaign's callee has role 'callee'
# What a withheld caller ID arrives as: nothing, a word, or a keypad spelling (ANONYMOUS, RESTRICTED,
# UNAVAILABLE, UNKNOWN). Such calls are not linked to each other in the repeat-call pass.
WITHHELD_NUMBERS = (
    "",
    "anonymous",
    "Anonymous",
    "restricted",
    "Restricted",
    "unknown",
    "Unknown",
    "+266696687",
    "+7378742833",
    "+86282452253",
    "+8656696",
)
TOP_TWO_SCORES = (4, 5)

LIMITS = {
    "short_abandon": ("short_abandon_seconds", 0, 3600),
    "service_level": ("service_level_seconds", 0, 14400),
    "repeat_days": ("repeat_days", 1, 366),
}


@dataclass(frozen=True)
class MetricSettings:
    """The thresholds a report uses: short abandons, the service-level target and the repeat window."""

    short_abandon_seconds: int = 5
    service_level_seconds: int = 20
    repeat_days: int = 7

    def __post_init__(self) -> None:
        for param, (attribute, low, high) in LIMITS.items():
            value = getattr(self, attribute)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{param}: {value!r} is not a whole number from {low} to {high}")

    @classmethod
    def from_mapping(cls, args: Mapping[str, Any]) -> MetricSettings:
        """Settings from query parameters or options (short_abandon, service_level, repeat_days)."""
        values: dict[str, int] = {}
        for param, (attribute, low, high) in LIMITS.items():
            raw = args.get(param)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            text = str(raw).strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 6) or not low <= int(text) <= high:
                raise ValueError(f"{param}: {text!r} is not a whole number from {low} to {high}")
            values[attribute] = int(text)
        return cls(**values)


class DeskSums(NamedTuple):
    """Re-summable figures of one desk over some calls (a period, a 15-minute bucket or a menu path)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflows: int = 0
    answered_in_time: int = 0  # answered with queue_time <= the service-level threshold
    wait_n: int = 0  # answered calls with a queue_time
    wait_sum: int = 0
    wait_squares: int = 0
    talk_n: int = 0  # answered calls with a talk_time
    talk_sum: int = 0
    talk_squares: int = 0
    csat_n: int = 0  # answered calls with a survey score
    csat_sum: int = 0
    csat_squares: int = 0
    csat_top_two: int = 0
    billed_minutes: int = 0  # costs: every leg of the desk, caller and agent
    caller_talk_seconds: int = 0
    agent_seconds: int = 0
    queued_seconds: int = 0  # queue_time summed over every offered call (waits of abandons too: patience)

    def plus(self, other: DeskSums) -> DeskSums:
        """These sums and the other's, field by field."""
        return DeskSums(*map(int.__add__, self, other))

    @classmethod
    def total(cls, many: Iterable[DeskSums]) -> DeskSums:
        """The sum of many (zero sums for none)."""
        columns = list(zip(*many, strict=True))
        return cls(*map(sum, columns)) if columns else cls()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, in order."""
        return cls._fields


SPLIT = "split"  # the randomised arm: caller legs whose desk a weighted or sticky split chose (assignment)
OTHER_ARM = "other"  # every other leg: directed, fallback, agent legs, calls logged before the column
ARMS = (SPLIT, OTHER_ARM)
NO_SEGMENT = "(none)"  # the segment of a leg without one (COALESCE(calls.segment, '(none)'))
Cell = tuple[str, str]  # (segment, arm)


@dataclass(frozen=True)
class Selection:
    """Which calls a report's figures, breakdowns and waits cover: some segments or all, one arm or both."""

    segment: str | None = None  # None: every segment
    split_only: bool = False  # the randomised arm only
    segments: frozenset[str] | None = None  # only these segments (the adjusted mode's common ones); None: all

    def holds(self, cell: Cell) -> bool:
        """Whether the calls of a (segment, arm) cell are selected."""
        segment, arm = cell
        return (
            (self.segment is None or segment == self.segment)
            and (self.segments is None or segment in self.segments)
            and (not self.split_only or arm == SPLIT)
        )


EVERY_CALL = Selection()


# How the database classifies each leg (one CASE per leg, under the thresholds S and T); each DeskSums field
# is then a count or a sum over some classes (FIELD_SOURCES).
AGENT_LEG = 0  # role 'agent': only its duration and telephony count
IN_TIME = 1  # answered with queue_time <= T
LATE = 2  # answered otherwise (later, or no queue_time)
SHORT = 3  # abandoned with queue_time < S
ABANDONED = 4  # abandoned otherwise
LEFT = 5  # queue_result 'leave'
OTHER = 6  # entered the queue or dial: another queue_result (queue-full, error, busy...) or none yet
NOT_ENTERED = 7  # never reached the desk's queue or dial (only its cost counts)
OFFERED = (IN_TIME, LATE, SHORT, ABANDONED, LEFT, OTHER)
ANSWERED = (IN_TIME, LATE)
CALLER_LEGS = (*OFFERED, NOT_ENTERED)
EVERY_LEG = (AGENT_LEG, *CALLER_LEGS)

# Each DeskSums field: the leg classes it counts or sums over, and what (legs, or a column's count or sum).
FIELD_SOURCES: dict[str, tuple[tuple[int, ...], str]] = {
    "offered": (OFFERED, "legs"),
    "answered": (ANSWERED, "legs"),
    "abandoned": ((SHORT, ABANDONED), "legs"),
    "short_abandoned": ((SHORT,), "legs"),
    "overflows": ((LEFT,), "legs"),
    "answered_in_time": ((IN_TIME,), "legs"),
    "wait_n": (ANSWERED, "count queue_time"),
    "wait_sum": (ANSWERED, "sum queue_time"),
    "wait_squares": (ANSWERED, "squares queue_time"),
    "talk_n": (ANSWERED, "count talk_time"),
    "talk_sum": (ANSWERED, "sum talk_time"),
    "talk_squares": (ANSWERED, "squares talk_time"),
    "csat_n": (ANSWERED, "count survey_score"),
    "csat_sum": (ANSWERED, "sum survey_score"),
    "csat_squares": (ANSWERED, "squares survey_score"),
    "csat_top_two": (ANSWERED, "top_two survey_score"),
    "billed_minutes": (EVERY_LEG, "started_minutes duration"),
    "caller_talk_seconds": (CALLER_LEGS, "sum talk_time"),
    "agent_seconds": ((AGENT_LEG,), "sum duration"),
    "queued_seconds": (OFFERED, "sum queue_time"),
}
# What the per-hour, per-day and per-path breakdowns need (the path query sums only these).
BREAKDOWN_SUMS = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "answered_in_time", "wait_n",
    "wait_sum", "talk_n", "talk_sum", "csat_n", "csat_sum",
)  # fmt: skip


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return numerator / denominator if denominator else None


def rate_parts(sums: DeskSums) -> dict[str, tuple[int, int]]:
    """Each rate as (numerator, denominator), for the figures and their Wilson intervals."""
    eligible = sums.offered - sums.short_abandoned
    return {
        "abandonment_rate": (sums.abandoned - sums.short_abandoned, eligible),
        "service_level": (sums.answered_in_time, eligible),
        "csat_top_two": (sums.csat_top_two, sums.csat_n),
        "csat_response_rate": (sums.csat_n, sums.answered),
    }


def mean_parts(sums: DeskSums) -> dict[str, tuple[int, int, int]]:
    """Each mean as (count, sum, sum of squares), for the figures and their Welch intervals."""
    return {
        "asa": (sums.wait_n, sums.wait_sum, sums.wait_squares),
        "aht": (sums.talk_n, sums.talk_sum, sums.talk_squares),
        "csat": (sums.csat_n, sums.csat_sum, sums.csat_squares),
    }


BREAKDOWN_FIGURES = (
    "offered", "answered", "abandoned", "short_abandoned", "overflows", "abandonment_rate", "asa",
    "service_level", "aht", "csat", "csat_responses",
)  # fmt: skip


def summable_figures(sums: DeskSums) -> dict[str, Any]:
    """The figures that can be computed for any slice of calls (used for breakdowns too)."""
    rates = {name: ratio(*parts) for name, parts in rate_parts(sums).items()}
    means = {name: ratio(total, n) for name, (n, total, _squares) in mean_parts(sums).items()}
    return {
        "offered": sums.offered,
        "answered": sums.answered,
        "abandoned": sums.abandoned,
        "short_abandoned": sums.short_abandoned,
        "abandonment_rate": rates["abandonment_rate"],
        "asa": means["asa"],
        "service_level": rates["service_level"],
        "aht": means["aht"],
        "overflows": sums.overflows,
        "csat": means["csat"],
        "csat_top_two": rates["csat_top_two"],
        "csat_responses": sums.csat_n,
        "csat_response_rate": rates["csat_response_rate"],
    }


def breakdown_figures(sums: DeskSums) -> dict[str, Any]:
    """The subset shown per hour, day and menu path."""
    figures = summable_figures(sums)
    return {name: figures[name] for name in BREAKDOWN_FIGURES}


def nearest_rank(histogram: Mapping[int, int], percent: int) -> int | None:
    """The nearest-rank percentile of values given as value -> count (None for no values)."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = -(-percent * n // 100)  # ceil(percent/100 * n), at least 1 for percent > 0
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= max(rank, 1):
            return value
    raise AssertionError("unreachable: the ranks add up to n")


def definitions(settings: MetricSettings) -> dict[str, Any]:
    """The definitions and thresholds a report used, in words, with the public sources they follow."""
    s, t, n = settings.short_abandon_seconds, settings.service_level_seconds, settings.repeat_days
    answered = ", ".join(ANSWERED_RESULTS)
    return {
        "source": "Amazon Connect Administrator Guide, 'Historical metrics definitions' (offered, "
        "abandoned, abandonment rate, service level, ASA); Twilio Flex Insights (a 5 s short abandon); "
        "Genesys Cloud, 'Configure the service level calculation' (its variants); docs/metrics.md "
        "'Definitions'",
        "calls": "caller legs only (role != 'agent'), started_at in [since, until); agent legs only add cost",
        "offered": "caller calls whose desk is D and that entered its queue or dial (queue_result or "
        "queued_at set), plus calls that overflowed out of D to another desk (overflow_from = D)",
        "answered": f"queue_result in ({answered}), or taken by an agent on the agent line and still talking "
        "(peer_call_sid set, no queue_result yet; its queue_time is Twilio's at the whisper)",
        "abandoned": "queue_result = 'hangup' (the caller hung up while waiting)",
        "short_abandon_seconds": s,
        "short_abandoned": f"abandoned with queue_time < {s} s; excluded from the rates",
        "abandonment_rate": "(abandoned - short_abandoned) / (offered - short_abandoned)",
        "asa": "mean queue_time of answered calls (s)",
        "percentiles": "nearest rank over answered calls' queue time (p50, p90)",
        "service_level_seconds": t,
        "service_level_variant": "answered within T / (offered - short abandons)",
        "service_level": f"answered with queue_time <= {t} s / (offered - short_abandoned)",
        "aht": "mean talk_time of answered calls that have one (s); hold and wrap-up are not known",
        "overflows": "offered calls sent on by D's overflow: overflow_from = D, or desk D with "
        "queue_result 'leave' (voicemail or callback); only a call's last hop is logged",
        "repeat_days": n,
        "repeat_rate": f"repeated / answered; repeated: answered calls whose number's next caller call (in "
        f"order of start, then of logging; at any desk, even after the period) starts at most {n} days later "
        "(whole seconds); attributed to the desk that answered the first call. Only calls in (role 'caller') "
        "take part: a campaign's answered calls (role 'callee') count as answered, never as repeated; nor "
        "does a withheld number (empty, anonymous, or Twilio's keypad spellings such as +266696687)",
        "csat": "mean survey_score (1-5) of answered calls with a score; csat_top_two = share of 4-5; "
        "csat_response_rate = responses / answered",
        "costs": "prices of the CURRENTLY published site (re-prices the whole log): each leg costs "
        "ceil(duration / 60) x telephony_per_minute (Twilio bills started minutes) plus handling "
        "(handled_minute: talk_time / 60 x amount on caller legs; handled_call: amount per answered "
        "caller leg; agent_hour: duration / 3600 x amount on the desk's agent legs). total_cost = every "
        "leg with desk D in the period (caller and agent legs); cost_per_call = total_cost / answered; "
        "cost_per_resolved_call = total_cost / (answered - repeated). A leg with no duration yet has "
        "no telephony cost",
        "intervals": "95%: Wilson for a rate, Newcombe's hybrid score (Wilson) interval for a difference "
        "of rates, Welch's t for a difference of means; 'no significant difference' when the interval "
        "contains 0. Counts and costs have no interval",
        "breakdowns": "hour of day and day in the report's time zone (`timezone`: one zone for both "
        "desks, so their hours line up; by started_at); figures that can "
        f"be summed per slice only: {', '.join(BREAKDOWN_FIGURES)}",
    }
