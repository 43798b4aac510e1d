"""The pure metric modules: intervals against published values, percentiles, settings, costs, verdicts."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from ivr.calls.periods import period
from ivr.engine.costs import COST_MODELS, CostSums, Leg, billed_minutes, leg_cost, total_cost
from ivr.engine.site import CostModel, Desk
from ivr.metrics import MetricSettings
from ivr.metrics.definitions import FIELD_SOURCES, DeskSums, nearest_rank
from ivr.metrics.params import desk_pair
from ivr.metrics.report import DeskData, comparison, desk_figures
from ivr.metrics.stats import newcombe, t_quantile, welch, wilson


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, table I, score method
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_intervals(successes, trials, low, high):
    found = wilson(successes, trials)
    assert found is not None
    assert found == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10 (hybrid score)
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_matches_published_intervals(x1, n1, x2, n2, low, high):
    assert newcombe(x1, n1, x2, n2) == pytest.approx((low, high), abs=5e-5)


def test_rates_without_trials_have_no_interval():
    assert wilson(0, 0) is None
    assert newcombe(1, 2, 0, 0) is None


@pytest.mark.parametrize(
    ("df", "quantile"), [(1, 12.7062047), (2, 4.3026527), (10, 2.2281389), (30, 2.0422725), (1e7, 1.9599640)]
)
def test_t_quantiles_match_the_tables(df, quantile):
    assert t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-6)


def test_welch_matches_r_on_the_sleep_data():
    # R: t.test(extra ~ group, data = sleep) -> 95 percent confidence interval: -3.3654832 0.2054832
    first = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    second = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    found = welch(
        10, statistics.mean(first), statistics.variance(first), 10, statistics.mean(second),
        statistics.variance(second),
    )  # fmt: skip
    assert found == pytest.approx((-3.3654832, 0.2054832), abs=1e-6)
    assert welch(1, 1.0, 0.0, 5, 2.0, 1.0) is None
    assert welch(3, 2.0, 0.0, 3, 2.0, 0.0) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [  # the nearest-rank method's textbook example: 15, 20, 35, 40, 50
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        (list(range(1, 11)), 90, 9),
        ([7, 7, 7, 1], 50, 7),
        ([], 50, None),
    ],
)
def test_nearest_rank(values, percent, expected):
    histogram: dict[int, int] = {}
    for value in values:
        histogram[value] = histogram.get(value, 0) + 1
    assert nearest_rank(histogram, percent) == expected


def test_settings_defaults_and_errors():
    assert MetricSettings() == MetricSettings(5, 20, 7)
    assert MetricSettings.from_mapping(
        {"short_abandon": "0", "service_level": " 30 ", "repeat_days": ""}
    ) == (MetricSettings(0, 30, 7))
    for args, message in [
        ({"short_abandon": "-1"}, "short_abandon: '-1' is not a whole number from 0 to 3600"),
        ({"service_level": "2.5"}, "service_level: '2.5' is not a whole number"),
        ({"repeat_days": "0"}, "repeat_days: '0' is not a whole number from 1 to 366"),
        ({"repeat_days": "x"}, "repeat_days: 'x'"),
    ]:
        with pytest.raises(ValueError, match=message):
            MetricSettings.from_mapping(args)
    with pytest.raises(ValueError, match="repeat_days"):
        MetricSettings(repeat_days=0)


def test_periods_and_desk_pairs():
    assert period("2026-11-20", "2026-11-23") == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 24, tzinfo=UTC),  # a date as `until` includes that whole day
    )
    assert period("2026-11-20T10:00:00+02:00", None) == (datetime(2026, 11, 20, 8, tzinfo=UTC), None)
    assert period(None, "2026-11-20T10:00:00") == (None, datetime(2026, 11, 20, 10, tzinfo=UTC))
    with pytest.raises(ValueError, match="since: 'yesterday'"):
        period("yesterday", None)
    with pytest.raises(ValueError, match="must be before until"):
        period("2026-11-21", "2026-11-20")
    assert desk_pair(" local, bpo ") == ("local", "bpo")
    for bad in (None, "local", "local,bpo,x", "local,local"):
        with pytest.raises(ValueError, match="desks"):
            desk_pair(bad)


def _desk(model: str | None, amount: float = 0.0, telephony: float = 0.01, name: str = "d") -> Desk:
    cost = CostModel(model, amount, "USD") if model else None
    return Desk(name, name, queue="q", cost=cost, telephony_per_minute=telephony)


LEGS = [
    Leg("caller", 200, 120, "bridged"),
    Leg("caller", 61, None, "hangup"),
    Leg("caller", None, None, None),  # still in progress: no duration yet
    Leg("caller", 0, None, None),
    Leg("agent", 3600, 100, None),
]


@pytest.mark.parametrize(
    ("model", "amount", "handling"),
    [
        ("handled_minute", 0.6, 120 / 60 * 0.6),  # caller talk only; the agent leg's talk is the same talk
        ("handled_call", 2.0, 2.0),
        ("agent_hour", 30.0, 30.0),
        (None, 0.0, 0.0),
    ],
)
def test_cost_models_price_each_leg_and_the_total_alike(model, amount, handling):
    desk = _desk(model, amount)
    telephony = (4 + 2 + 0 + 0 + 60) * 0.01
    assert sum(leg_cost(desk, leg) for leg in LEGS) == pytest.approx(telephony + handling)
    sums = CostSums(billed_minutes=66, caller_talk_seconds=120, answered=1, agent_seconds=3600)
    assert total_cost(desk, sums) == pytest.approx(telephony + handling)


def test_started_minutes_and_the_registry():
    assert [billed_minutes(d) for d in (None, 0, 1, 60, 61, 3600)] == [0, 0, 1, 1, 2, 60]
    assert set(COST_MODELS) == {"handled_minute", "handled_call", "agent_hour"}


def test_every_summed_field_has_a_source():
    assert tuple(FIELD_SOURCES) == DeskSums.names()


def _data(name: str, currency: str | None = "USD", **sums: int) -> DeskData:
    desk = Desk(
        name, name.upper(), queue="q", cost=CostModel("handled_call", 1.0, currency) if currency else None
    )
    return DeskData(desk, {0: DeskSums(**sums)}, {}, {}, 0)


def _rows(first: DeskData, second: DeskData) -> dict[str, dict]:
    figures = (desk_figures(first), desk_figures(second))
    return {row["metric"]: row for row in comparison(first, second, figures)}


def test_verdicts_in_plain_words():
    first = _data("local", offered=1000, answered=900, abandoned=100, wait_n=900, wait_sum=9000,
                  wait_squares=900 * 100 + 900 * 25)  # fmt: skip
    second = _data("bpo", offered=1000, answered=800, abandoned=200, wait_n=800, wait_sum=16000,
                   wait_squares=800 * 400 + 800 * 25)  # fmt: skip
    rows = _rows(first, second)
    rate = rows["abandonment_rate"]
    assert (rate["a"], rate["b"], rate["difference"]) == pytest.approx((0.1, 0.2, -0.1))
    assert rate["ci_low"] < rate["ci_high"] < 0 and rate["significant"] is True
    assert rate["verdict"] == "local is lower by 10.0 points (significant at 95%)"
    asa = rows["asa"]
    assert asa["verdict"] == "local is lower by 10.0 s (significant at 95%)" and asa["unit"] == "s"
    assert rows["offered"]["verdict"] == "the same"
    assert rows["answered"]["verdict"] == "local has 100 more than bpo"
    assert rows["cost_per_call"]["significant"] is None and "no interval" in rows["cost_per_call"]["verdict"]
    close = _rows(_data("local", offered=100, abandoned=10), _data("bpo", offered=100, abandoned=12))
    assert close["abandonment_rate"]["significant"] is False
    assert close["abandonment_rate"]["verdict"] == "no significant difference"
    assert close["abandonment_rate"]["ci_low"] < 0 < close["abandonment_rate"]["ci_high"]
    assert close["asa"]["verdict"] == "not enough data" and close["asa"]["difference"] is None


def test_costs_in_different_currencies_are_not_subtracted():
    rows = _rows(_data("local", answered=2), _data("bpo", "PHP", answered=2))
    assert rows["total_cost"]["difference"] is None
    assert rows["total_cost"]["verdict"] == "not compared: different currencies (USD, PHP)"
    rows = _rows(_data("local", answered=2), _data("bpo", None, answered=2))
    assert rows["cost_per_call"]["verdict"] == "not compared: different currencies (USD, no cost model)"
