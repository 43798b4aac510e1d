"""Staffing from queueing models: Erlang C (M/M/N) and Erlang A (M/M/N+M, callers who abandon) (pure).
Times in seconds, arrivals in calls per hour; docs/metrics.md "Staffing" gives the formulas and sources."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .checks import share, within_range

SECONDS_PER_HOUR = 3600
MAX_AGENTS = 100_000
MAX_QUEUE_STATES = 1_000_000
TAIL = 40.0  # queue states are summed until the rest weighs less than e^-40 of the largest
HOPELESS = 10_000  # callers waiting on average: no staffing that leaves so many reaches a service level


@dataclass(frozen=True)
class Staffing:
    """What callers get from `agents` agents: service level within the threshold, ASA, occupancy, P(wait)."""

    agents: int
    service_level: float  # share of offered calls answered within the threshold
    asa: float  # mean wait of answered calls (s), those answered at once included
    occupancy: float  # share of the agents' time spent on calls
    p_wait: float  # share of callers who find every agent busy
    abandon_rate: float | None = None  # share of offered calls that abandon (Erlang A only)


def _inputs(calls_per_hour: float, aht: float, within: float) -> tuple[float, float, float]:
    """Checked arrivals per hour, AHT and threshold (s); ValueError names the bad one."""
    calls = within_range("calls_per_hour", calls_per_hour, 0, 1e7, open_low=True)
    handle = within_range("aht", aht, 0, 86400, open_low=True)
    return calls, handle, within_range("within", within, 0, 86400)


def _agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, int) or not 1 <= agents <= MAX_AGENTS:
        raise ValueError(f"agents: {agents!r} must be a whole number from 1 to {MAX_AGENTS}")
    return agents


def offered_load(calls_per_hour: float, aht: float) -> float:
    """The offered load in Erlangs: arrivals per second times the mean handle time."""
    return calls_per_hour / SECONDS_PER_HOUR * aht


def erlang_b(load: float, agents: int) -> float:
    """Erlang B, the blocking probability of N agents and no queue, by the stable recursion."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(calls_per_hour: float, aht: float, agents: int, within: float) -> Staffing:
    """Erlang C: callers wait as long as it takes; ValueError unless there are more agents than Erlangs."""
    calls, handle, within = _inputs(calls_per_hour, aht, within)
    agents = _agents(agents)
    load = offered_load(calls, handle)
    if agents <= load:
        raise ValueError(
            f"agents: {agents} cannot carry {load:.2f} Erlangs ({calls:g} calls an hour of {handle:g} s); "
            "Erlang C needs more agents than Erlangs, or the queue grows without end"
        )
    blocking = erlang_b(load, agents)
    p_wait = agents * blocking / (agents - load * (1 - blocking))
    spare = agents - load
    return Staffing(
        agents=agents,
        service_level=1 - p_wait * math.exp(-spare * within / handle),
        asa=p_wait * handle / spare,
        occupancy=load / agents,
        p_wait=p_wait,
    )


def _log_sum(logs: list[float]) -> float:
    """log(sum(exp(x))) without overflow."""
    top = max(logs)
    return top + math.log(sum(math.exp(x - top) for x in logs))


def _queue_logs(arrival: float, service: float, agents: int, abandon: float, start: float) -> list[float]:
    """Log weights of the states with j = 0, 1, ... callers waiting, until the rest is negligible."""
    logs = [start]
    top = start
    for j in range(1, MAX_QUEUE_STATES):
        ratio = arrival / (service + j * abandon)
        logs.append(logs[-1] + math.log(ratio))
        top = max(top, logs[-1])
        # The ratios fall with j, so once below 1 the rest is at most the last weight times r / (1 - r).
        if ratio < 1 and logs[-1] + math.log(ratio / (1 - ratio)) < top - TAIL:
            return logs
    raise ValueError(
        f"the queue is too long to compute ({MAX_QUEUE_STATES} states): {agents} agents and a patience of "
        f"{1 / abandon:g} s leave too many callers waiting"
    )


def erlang_a(calls_per_hour: float, aht: float, patience: float, agents: int, within: float) -> Staffing:
    """Erlang A: callers abandon after an exponential patience (mean `patience` s); any staffing is stable.
    The stationary birth-death chain, and SL(t) exactly by the queue an arrival finds (docs/metrics.md)."""
    calls, handle, within = _inputs(calls_per_hour, aht, within)
    patience = within_range("patience", patience, 0, 1e9, open_low=True)
    agents = _agents(agents)
    arrival, mu, theta = calls / SECONDS_PER_HOUR, 1 / handle, 1 / patience
    load = arrival / mu
    service = agents * mu
    # log weight of k callers in the system, relative to an empty system: k log A - log k! up to N
    below = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents)]
    queue = _queue_logs(arrival, service, agents, theta, agents * math.log(load) - math.lgamma(agents + 1))
    total = _log_sum(below + queue)
    x = service / theta
    # With j waiting ahead, e^-θV of the caller's virtual wait V is Beta(x, j+1): answered with probability
    # x/(x+j+1), within t with x/(x+j+1)·(1 - I_c(x+1, j+1)), c = e^-θt, and their mean wait if answered is
    # Σ_{i=1..j+1} 1/(Nμ + iθ). I_c(x+1, j+1) = Σ_{b<=j} c^(x+1) (1-c)^b (x+1)_b / b!, summed term by term.
    log_c_term = -(service + theta) * within
    log_step = math.log(-math.expm1(-theta * within)) if within > 0 else -math.inf
    p_wait = abandoned = in_time = wait_sum = cumulative = mean_wait = 0.0
    for j, log_weight in enumerate(queue):
        p = math.exp(log_weight - total)
        answered = x / (x + j + 1)
        if j > 0:
            log_c_term += log_step + math.log((x + j) / j)
        cumulative += math.exp(log_c_term)
        mean_wait += 1 / (service + (j + 1) * theta)
        p_wait += p
        abandoned += p * (1 - answered)
        in_time += p * answered * max(0.0, 1 - cumulative)
        wait_sum += p * answered * mean_wait
    served = 1 - abandoned
    return Staffing(
        agents=agents,
        service_level=min(1.0, 1 - p_wait + in_time),
        asa=wait_sum / served,
        occupancy=load * served / agents,
        p_wait=p_wait,
        abandon_rate=abandoned,
    )


def agents_needed(
    calls_per_hour: float, aht: float, target: float = 0.8, within: float = 20, patience: float | None = None
) -> Staffing:
    """The fewest agents whose service level reaches the target: Erlang A with a patience, else Erlang C."""
    calls, handle, within = _inputs(calls_per_hour, aht, within)
    target = share("target", target)

    def model(agents: int) -> Staffing:
        if patience is None:
            return erlang_c(calls, handle, agents, within)
        return erlang_a(calls, handle, patience, agents, within)

    load = offered_load(calls, handle)
    if patience is None:
        lowest = math.floor(load) + 1
    else:  # fewer agents leave some HOPELESS callers waiting on average (λ - Nμ = θ·queue): not tried
        lowest = max(1, math.ceil(load - HOPELESS * handle / patience))
    return _smallest(model, lowest, target)


def _smallest(model: Callable[[int], Staffing], lowest: int, target: float) -> Staffing:
    """The first staffing from `lowest` up whose service level reaches the target (it rises with agents)."""
    if lowest > MAX_AGENTS:
        raise ValueError(f"the load needs more than {MAX_AGENTS} agents")
    found = model(lowest)
    if found.service_level >= target:
        return found
    low, step = lowest, 1
    while True:  # double the step until the target is reached, then halve back
        high = min(low + step, MAX_AGENTS)
        found = model(high)
        if found.service_level >= target:
            break
        if high == MAX_AGENTS:
            raise ValueError(f"the target needs more than {MAX_AGENTS} agents")
        low, step = high, step * 2
    while high - low > 1:  # model(low) misses the target, model(high) reaches it
        middle = (low + high) // 2
        trial = model(middle)
        if trial.service_level >= target:
            high, found = middle, trial
        else:
            low = middle
    return found
