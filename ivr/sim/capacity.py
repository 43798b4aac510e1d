"""How many calls a day a profile's agents are sized for (Erlang C per desk and staffed hour).
The definition is in docs/simulator.md, "How many calls the staffing is sized for"."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..engine.actions import Enqueue, Gather
from ..engine.runner import start, step
from ..engine.runtime import CallContext, FlowError, StepResult
from ..engine.site import Site
from ..metrics.erlang import erlang_c, offered_load
from .people import Input
from .profile import Profile, day_kind, hourly_weights

TARGET = 0.8  # the classic 80% answered within 20 s
WITHIN = 20.0
FAR_MORE = 1.5  # a run asking more than this many times the sized-for volume gets a warning
SAMPLE_NUMBERS = 64  # caller numbers walked through the flow per script (splits may go by number)


@dataclass(frozen=True)
class DeskLoad:
    """The share of all calls that reach one queue, and their mean handle time there."""

    queue: str
    share: float
    aht: float


@dataclass(frozen=True)
class Sizing:
    """The calls a day the staffing meets the target for, and the desk that limits it."""

    calls_per_day: float
    queue: str  # the desk that falls below the target first


def flow_for(site: Site, number: str) -> str:
    """The flow that answers `number`: the one listing it, else the default flow."""
    named = [flow.name for flow in site.flows.values() if number in flow.numbers]
    default = [flow.name for flow in site.flows.values() if flow.default]
    chosen = named or default
    if not chosen:
        raise LookupError(f"no flow answers {number} and no flow is the default")
    return chosen[0]


def _params(answer: Input) -> dict[str, str]:
    """The Gather result Twilio reports for one answer (digits up to '#', speech, or nothing)."""
    if answer.digits:
        return {"Digits": answer.digits.split("#", 1)[0]}
    if answer.speech:
        return {"SpeechResult": answer.speech, "Confidence": f"{answer.confidence:.2f}"}
    return {"Digits": ""}


def queue_reached(site: Site, flow: str, inputs: Sequence[Input], ctx: CallContext) -> str | None:
    """The queue a caller answering `inputs` joins, walking the flow without Twilio (None: no queue)."""
    answers = iter(inputs)
    try:
        result: StepResult = start(site, flow, ctx)
        for _ in range(100):
            if any(isinstance(action, Enqueue) for action in result.actions):
                return next(a.queue for a in result.actions if isinstance(a, Enqueue))
            if not any(isinstance(action, Gather) for action in result.actions):
                return None
            result = step(site, result.state, "input", _params(next(answers, Input())), ctx)
    except FlowError:
        return None  # the caller hears the site's apology; no desk's share to count
    return None


def desk_loads(profile: Profile, site: Site, when: datetime, seed: int = 0) -> dict[str, DeskLoad]:
    """Where the profile's callers go at `when` (each script walked with many numbers) and their AHT."""
    rng = random.Random(seed)
    flow = flow_for(site, profile.to)
    total = sum(script.weight for script in profile.scripts)
    shares: dict[str, float] = defaultdict(float)
    work: dict[str, float] = defaultdict(float)  # share x handle factor, for the mean handle time
    for script in profile.scripts:
        for _ in range(SAMPLE_NUMBERS):
            number = f"+1512{rng.randrange(2_000_000, 9_999_999):07d}"
            ctx = CallContext(call_sid="CAsizing", caller=number, called=profile.to, now=when)
            queue = queue_reached(site, flow, script.inputs, ctx)
            if queue in profile.desks:
                share = script.weight / total / SAMPLE_NUMBERS
                shares[queue] += share
                work[queue] += share * script.handle_factor
    return {
        queue: DeskLoad(queue, share, profile.desks[queue].handle_seconds * work[queue] / share)
        for queue, share in shares.items()
    }


def service_level(calls_per_hour: float, aht: float, agents: int) -> float:
    """Erlang C: the share answered within WITHIN seconds (0 when the agents cannot carry the load)."""
    if agents <= offered_load(calls_per_hour, aht):
        return 0.0
    return erlang_c(calls_per_hour, aht, agents, WITHIN).service_level


@dataclass(frozen=True)
class Plan:
    """A run's hours (one of each kind: its share of the calls, how many hours are like it) and desk loads."""

    profile: Profile
    days: int
    hours: list[tuple[datetime, float, int]]
    loads: dict[str, DeskLoad]

    @classmethod
    def of(cls, profile: Profile, site: Site, first: datetime, days: int) -> Plan:
        """The plan of `days` days of the profile's calls from `first`, routed by the site's flows."""
        every = hourly_weights(profile, first, days)
        total = sum(weight for _hour, weight in every)
        kinds: dict[tuple[str, int], tuple[datetime, float, int]] = {}  # same day kind and hour: alike
        for hour, weight in every:
            local = hour.astimezone(ZoneInfo(profile.timezone))
            _first, share, alike = kinds.get((day_kind(local), local.hour), (hour, weight / total, 0))
            kinds[day_kind(local), local.hour] = (_first, share, alike + 1)
        loads: dict[str, DeskLoad] = {}
        for hour, share, _alike in sorted(kinds.values(), key=lambda kind: -kind[1]):  # busiest open hour
            if not share:
                break
            loads = desk_loads(profile, site, hour)
            if loads:
                break
        return cls(profile, max(1, days), list(kinds.values()), loads)

    def service_levels(self, calls_per_day: float) -> dict[str, float]:
        """Each desk's share of the calls offered in its staffed hours answered within WITHIN seconds,
        by Erlang C hour by hour, when this many calls a day arrive."""
        answered: dict[str, float] = defaultdict(float)
        offered: dict[str, float] = defaultdict(float)
        for hour, share, alike in self.hours:
            for load in self.loads.values():
                agents = self.profile.desks[load.queue].on_shift(hour)
                per_hour = calls_per_day * self.days * share * load.share
                if agents and per_hour:
                    offered[load.queue] += per_hour * alike
                    answered[load.queue] += per_hour * alike * service_level(per_hour, load.aht, agents)
        return {queue: answered[queue] / offered[queue] for queue in offered}

    def short_of_target(self, calls_per_day: float) -> str | None:
        """The first desk (by name) below the target at this volume; None when every desk meets it."""
        levels = self.service_levels(calls_per_day)
        return next((queue for queue, level in sorted(levels.items()) if level < TARGET), None)


def sized_for(plan: Plan) -> Sizing | None:
    """The calls a day at which every desk answers 80% of the calls in its staffed hours within 20 s.

    None when no caller of the profile reaches a desk with agents on shift.
    """
    if not plan.service_levels(1.0):
        return None
    low, high = 0.0, 1.0
    while plan.short_of_target(high) is None:
        low, high = high, high * 2
    while high - low > max(0.1, low / 1000):
        middle = (low + high) / 2
        low, high = (middle, high) if plan.short_of_target(middle) is None else (low, middle)
    return Sizing(low, plan.short_of_target(high) or "")


def sizing_lines(sizing: Sizing | None, calls: int, days: int, profile: str) -> tuple[str, str | None]:
    """What `ivr traffic` says about the staffing, and a warning when the run asks for far more calls."""
    if sizing is None:
        return f"{profile}: no caller reaches a desk with agents on shift, so no call will be answered", None
    sized = f"about {sizing.calls_per_day:,.0f} calls a day"
    line = (
        f"{profile} is staffed for {sized} over these days (every desk answers {TARGET:.0%} of its calls "
        f"within {WITHIN:.0f} s by Erlang C; {sizing.queue} is the first to fall short)"
    )
    asked = calls / days
    if asked <= FAR_MORE * sizing.calls_per_day:
        return line, None
    more = max(days + 1, math.ceil(calls / sizing.calls_per_day))
    return line, (
        f"warning: {asked:,.0f} calls a day is {asked / max(sizing.calls_per_day, 1):.1f} times what the "
        f"profile is staffed for ({sized}): expect long waits and many abandoned calls; spread them over "
        f"--days {more} or more, or add agents to the profile"
    )
