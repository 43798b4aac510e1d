"""Erlang C against a published worked example; Erlang A against the chain summed otherwise and its limits."""

from __future__ import annotations

import math

import pytest

from ivr.metrics.erlang import agents_needed, erlang_a, erlang_b, erlang_c

# The Call Centre Helper worked example (100 calls in 30 minutes, AHT 180 s, 80% within 20 s), as
# published with the results of two packages: pyworkforce 0.1.0 on PyPI (ErlangC(transactions=100,
# aht=3, interval=30, asa=20/60).required_positions(0.8): raw_positions 14, service_level
# 0.8883500191794669, occupancy 0.7142857142857143, waiting_probability 0.1741319335950498) and the
# CRAN package ErlangC 0.1.0 README (14 agents: wait_probability 0.1741319, service_level 0.88835,
# average_speed_of_answer 7.83593701177724 s, occupancy 0.7142857; 11 agents: wait_probability 0.6821182).
CALLS_PER_HOUR, AHT, WITHIN = 200, 180, 20


def test_erlang_c_matches_the_published_worked_example():
    found = erlang_c(CALLS_PER_HOUR, AHT, 14, WITHIN)
    assert found.p_wait == pytest.approx(0.1741319335950498, rel=1e-12)
    assert found.service_level == pytest.approx(0.8883500191794669, rel=1e-12)
    assert found.asa == pytest.approx(7.83593701177724, rel=1e-12)
    assert found.occupancy == pytest.approx(0.7142857142857143, rel=1e-12)
    assert found.abandon_rate is None
    assert erlang_c(CALLS_PER_HOUR, AHT, 11, WITHIN).p_wait == pytest.approx(0.6821182, abs=5e-8)


def test_agents_needed_is_the_published_raw_positions():
    found = agents_needed(CALLS_PER_HOUR, AHT, target=0.8, within=WITHIN)
    assert found.agents == 14
    assert erlang_c(CALLS_PER_HOUR, AHT, 13, WITHIN).service_level < 0.8 <= found.service_level


@pytest.mark.parametrize(("load", "agents", "blocking"), [(1.0, 1, 0.5), (2.0, 2, 0.4), (10.0, 10, 0.2146)])
def test_erlang_b_matches_its_closed_form(load, agents, blocking):
    # B(N, A) = (A^N / N!) / sum_k A^k / k!: 1/2, 2/5, and 0.2146 from Erlang B tables for 10 E on 10 lines
    assert erlang_b(load, agents) == pytest.approx(blocking, abs=5e-5)


def test_erlang_c_service_level_integrates_to_the_asa():
    # ASA = integral over t of P(wait > t): the closed forms of SL(t) and ASA must agree
    step = 0.5
    grid = [erlang_c(CALLS_PER_HOUR, AHT, 12, k * step).service_level for k in range(4001)]
    integral = step * (sum(1 - sl for sl in grid) - (2 - grid[0] - grid[-1]) / 2)
    assert integral == pytest.approx(erlang_c(CALLS_PER_HOUR, AHT, 12, 0).asa, rel=1e-4)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    c = erlang_c(CALLS_PER_HOUR, AHT, 12, WITHIN)
    a = erlang_a(CALLS_PER_HOUR, AHT, 1e9, 12, WITHIN)
    assert (a.p_wait, a.service_level, a.asa, a.occupancy) == pytest.approx(
        (c.p_wait, c.service_level, c.asa, c.occupancy), rel=1e-5
    )
    assert a.abandon_rate == pytest.approx(0, abs=1e-6)


def _chain(calls_per_hour, aht, patience, agents, states=4000):
    """Stationary probabilities of the M/M/N+M chain by plain products, cut at a fixed length."""
    arrival, mu, theta = calls_per_hour / 3600, 1 / aht, 1 / patience
    weights = [1.0]
    for k in range(1, states):
        weights.append(weights[-1] * arrival / (min(k, agents) * mu + max(k - agents, 0) * theta))
    total = sum(weights)
    return [w / total for w in weights]


@pytest.mark.parametrize(
    ("calls", "aht", "patience", "agents"),
    [(200, 180, 120, 10), (200, 180, 600, 12), (50, 300, 60, 2), (400, 240, 300, 20)],
)
def test_erlang_a_matches_the_chain_summed_directly(calls, aht, patience, agents):
    # P(wait) = P(all N busy); P(abandon) = θ E[queue] / λ (abandons per second over arrivals per second)
    probabilities = _chain(calls, aht, patience, agents)
    p_wait = sum(probabilities[agents:])
    queue = sum((k - agents) * p for k, p in enumerate(probabilities) if k > agents)
    found = erlang_a(calls, aht, patience, agents, WITHIN)
    assert found.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert found.abandon_rate == pytest.approx(queue / patience / (calls / 3600), rel=1e-9)
    busy = sum(min(k, agents) * p for k, p in enumerate(probabilities))
    assert found.occupancy == pytest.approx(busy / agents, rel=1e-9)


def _poisson(load, k):
    return math.exp(k * math.log(load) - load - math.lgamma(k + 1))


@pytest.mark.parametrize(("agents", "within"), [(8, 20), (10, 5), (12, 60), (6, 0)])
def test_erlang_a_with_patience_equal_to_aht_is_an_infinite_server_queue(agents, within):
    # With θ = μ every caller in the system leaves at rate μ, so their number is Poisson(A) (M/M/∞).
    # A caller finding N + j answered within t: they are answered when j + 1 of the N + j callers ahead
    # have left, before their own patience runs out: all N + j + 1 clocks are Exp(μ), so it is
    # N/(N+j+1) · P(Binomial(N + j + 1, 1 - e^(-μt)) >= j + 1) (order statistics of exponentials).
    aht = 180
    load = CALLS_PER_HOUR * aht / 3600
    leave = 1 - math.exp(-within / aht)
    p_wait = 1 - sum(_poisson(load, k) for k in range(agents))
    abandon = sum((k - agents) * _poisson(load, k) for k in range(agents, 200)) / load
    in_time = 1 - p_wait
    for j in range(150):
        m = agents + j + 1
        tail = sum(math.comb(m, i) * leave**i * (1 - leave) ** (m - i) for i in range(j + 1, m + 1))
        in_time += _poisson(load, agents + j) * agents / m * tail
    found = erlang_a(CALLS_PER_HOUR, aht, aht, agents, within)
    assert found.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert found.abandon_rate == pytest.approx(abandon, rel=1e-9)
    assert found.service_level == pytest.approx(in_time, rel=1e-9)


def test_erlang_a_service_level_integrates_to_the_waits_of_answered_calls():
    # ASA x P(answered) = E[wait; answered] = integral over t of (P(answered) - SL(t))
    calls, aht, patience, agents, step = 200, 180, 90, 9, 0.25
    answered = 1 - (erlang_a(calls, aht, patience, agents, 0).abandon_rate or 0)
    grid = [erlang_a(calls, aht, patience, agents, k * step).service_level for k in range(2401)]
    integral = step * (sum(answered - sl for sl in grid) - (2 * answered - grid[0] - grid[-1]) / 2)
    assert integral == pytest.approx(erlang_a(calls, aht, patience, agents, 0).asa * answered, rel=1e-4)


def test_erlang_a_service_level_rises_with_agents_and_agents_needed_is_the_first_to_reach_it():
    levels = [erlang_a(400, 240, 90, n, WITHIN).service_level for n in range(1, 40)]
    assert levels == sorted(levels)
    found = agents_needed(400, 240, target=0.9, within=WITHIN, patience=90)
    assert found.abandon_rate is not None
    assert levels[found.agents - 2] < 0.9 <= levels[found.agents - 1] == found.service_level


def test_endless_patience_staffs_as_erlang_c():
    assert agents_needed(2000, 300, 0.8, 20, patience=1e9).agents == agents_needed(2000, 300, 0.8, 20).agents


def test_abandons_let_fewer_agents_reach_the_target():
    # Impatient callers shorten the queue for the others (at the cost of the ones who hang up)
    c = agents_needed(2000, 300, 0.8, 20)
    a = agents_needed(2000, 300, 0.8, 20, patience=60)
    assert a.agents < c.agents
    assert a.abandon_rate is not None and a.abandon_rate > 0.05


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(200, 180, 10, 20), "cannot carry 10.00 Erlangs"),
        (lambda: erlang_c(0, 180, 10, 20), "calls_per_hour: 0 must be more than 0"),
        (lambda: erlang_c(200, float("nan"), 10, 20), "aht: nan is not a number"),
        (lambda: erlang_c(200, 180, 0, 20), "agents: 0 must be a whole number"),
        (lambda: erlang_c(200, 180, 12, -1), "within: -1 must be from 0 to 86400"),
        (lambda: erlang_a(200, 180, -5, 12, 20), "patience: -5 must be more than 0"),
        (lambda: agents_needed(200, 180, target=1.0), "target: 1.0 must be a share between 0 and 1"),
        (lambda: agents_needed(200, 180, target=80), "target: 80 must be a share"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
