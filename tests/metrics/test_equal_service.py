"""Cost at equal service on hand-made hours: the staffing each model needs and what it costs by hand."""

from __future__ import annotations

import json

import pytest

from ivr.engine.site import CostModel, Desk
from ivr.metrics import modes
from ivr.metrics.definitions import DeskSums, MetricSettings
from ivr.metrics.definitions import definitions as metric_definitions
from ivr.metrics.equal_service import DeskHours, definitions, equal_service
from ivr.metrics.erlang import agents_needed

LOCAL = Desk("local", "In-house", cost=CostModel("agent_hour", 30.0, "USD"), telephony_per_minute=0.01)
BPO = Desk("bpo", "Offshore", cost=CostModel("handled_minute", 0.5, "USD"), telephony_per_minute=0.02)

# 09:00: 1,000 calls over 5 days = 200 an hour, AHT 180 s: the Call Centre Helper example, which needs
# 14 agents under Erlang C (test_erlang.py). 100 abandons over 12,000 s of waiting: patience 120 s.
# 6,000 billed minutes, 1,000 of them the agents' own line (60,000 s): 5 caller minutes per offered call.
NINE = DeskSums(
    offered=1000, answered=900, abandoned=100, short_abandoned=10, talk_n=900, talk_sum=162_000,
    billed_minutes=6000, agent_seconds=60_000, queued_seconds=12_000,
)  # fmt: skip
# 14:00: 100 calls over 5 days, AHT 300 s, no abandons (its patience is the desk's)
TWO = DeskSums(offered=100, answered=100, talk_n=100, talk_sum=30_000, billed_minutes=500)


def local_hours(repeated: int = 100) -> DeskHours:
    return DeskHours(LOCAL, {"09": NINE, "14": TWO, "03": DeskSums()}, days=5, repeated=repeated)


def bpo_hours() -> DeskHours:
    return DeskHours(BPO, {"09": NINE._replace(agent_seconds=0)}, days=5, repeated=0)


def test_each_hour_is_staffed_for_the_target_from_its_own_traffic():
    section = equal_service(local_hours(), bpo_hours(), 0.8, 20)["desks"]["local"]
    nine, two = section["hours"]  # hours without calls are not staffed
    assert (nine["hour"], nine["calls_per_hour"], nine["aht"], nine["patience"]) == ("09", 200, 180, 120)
    assert nine["erlang_c"]["agents"] == 14
    assert nine["erlang_a"]["agents"] == agents_needed(200, 180, 0.8, 20, patience=120).agents == 12
    # 14:00 has no abandons of its own: the desk's patience, (12,000 s) / 100 abandons
    assert (two["hour"], two["calls_per_hour"], two["aht"], two["patience"]) == ("14", 20, 300, 120)
    assert two["erlang_c"]["agents"] == agents_needed(20, 300).agents
    assert section["erlang_c"]["agent_hours_per_day"] == 14 + two["erlang_c"]["agents"]
    for hour in (nine, two):
        assert hour["erlang_c"]["service_level"] >= 0.8
        assert hour["erlang_a"]["service_level"] >= 0.8


def test_an_hour_with_few_abandons_takes_the_desks_patience():
    # 10:00: 4 abandons in 160 s of waiting (its own estimate, 40 s, would be noise); 11:00: 10 abandons,
    # 2 of them short, in 600 s (60 s, its own). The desk: (12,000 + 160 + 600) s / (100 + 4 + 10) abandons
    few = DeskSums(offered=50, answered=46, abandoned=4, talk_n=46, talk_sum=8280, queued_seconds=160)
    enough = few._replace(abandoned=10, short_abandoned=2, queued_seconds=600)
    hours = DeskHours(LOCAL, {"09": NINE, "10": few, "11": enough}, days=5, repeated=0)
    section = equal_service(hours, bpo_hours())["desks"]["local"]
    desk = 12_760 / 114
    assert section["patience"] == pytest.approx(desk)
    patience = {hour["hour"]: hour["patience"] for hour in section["hours"]}
    assert patience == pytest.approx({"09": 120, "10": desk, "11": 60})
    ten = section["hours"][1]
    assert ten["erlang_a"]["agents"] == agents_needed(10, 180, 0.8, 20, patience=desk).agents
    assert "at least 10 abandons" in definitions()["equal_service_patience"]


def test_agent_hour_costs_by_hand():
    section = equal_service(local_hours(), bpo_hours())["desks"]["local"]
    nine = section["hours"][0]
    # Erlang C at 09:00: 14 agents x 30 USD + telephony 0.01 x (5 caller minutes x 200 calls + 14 x 60
    # agent-line minutes) = 420 + 18.4 = 438.4 USD a day
    assert nine["erlang_c"]["cost"] == pytest.approx(438.4)
    two = section["hours"][1]
    # 14:00: 20 calls, 5 caller minutes each (all hours' caller minutes over all offered calls)
    agents = two["erlang_c"]["agents"]
    assert two["erlang_c"]["cost"] == pytest.approx(30 * agents + 0.01 * (5 * 20 + 60 * agents))
    # per day: 220 handled, 100 of 1,000 answered repeated: 198 resolved
    day = section["erlang_c"]
    assert day["handled_per_day"] == pytest.approx(220)
    assert day["cost_per_call"] == pytest.approx((438.4 + two["erlang_c"]["cost"]) / 220)
    assert day["cost_per_resolved_call"] == pytest.approx((438.4 + two["erlang_c"]["cost"]) / 198)


def test_erlang_a_counts_the_calls_that_hang_up():
    section = equal_service(local_hours(), bpo_hours())["desks"]["local"]
    nine = section["hours"][0]["erlang_a"]
    abandon = agents_needed(200, 180, 0.8, 20, patience=120).abandon_rate
    assert nine["abandon_rate"] == pytest.approx(abandon)
    assert nine["cost"] == pytest.approx(12 * 30 + 0.01 * (5 * 200 + 12 * 60))
    abandon_two = section["hours"][1]["erlang_a"]["abandon_rate"]
    handled = 200 * (1 - abandon) + 20 * (1 - abandon_two)
    assert section["erlang_a"]["handled_per_day"] == pytest.approx(handled)
    assert section["erlang_a"]["abandon_rate"] == pytest.approx((200 * abandon + 20 * abandon_two) / 220)
    assert section["erlang_a"]["cost_per_resolved_call"] < section["erlang_c"]["cost_per_resolved_call"]


def test_handled_minute_costs_by_hand():
    section = equal_service(local_hours(), bpo_hours())["desks"]["bpo"]
    # handling 0.5 USD x 200 calls x 3 minutes; telephony 0.02 x 6 caller minutes x 200 (no agent line)
    assert section["hours"][0]["erlang_c"]["cost"] == pytest.approx(300 + 24)
    assert section["erlang_c"]["cost_per_resolved_call"] == pytest.approx(324 / 200)


def test_the_verdict_names_both_desks_and_costs():
    result = equal_service(local_hours(), bpo_hours(), 0.9, 30)
    local, offshore = result["desks"]["local"], result["desks"]["bpo"]
    assert result["comparable"] is True
    assert result["verdict"] == (
        f"at equal service (90% within 30 s), local costs {local['erlang_a']['cost_per_resolved_call']:.2f} "
        f"USD per resolved call and bpo {offshore['erlang_a']['cost_per_resolved_call']:.2f} USD (Erlang A, "
        "with each desk's measured caller patience; Erlang C, nobody hanging up: "
        f"{local['erlang_c']['cost_per_resolved_call']:.2f} USD and "
        f"{offshore['erlang_c']['cost_per_resolved_call']:.2f} USD)"
    )
    json.dumps(result)  # the section goes into the report's JSON as it is


def test_different_currencies_are_not_compared():
    euro = Desk("bpo", "Offshore", cost=CostModel("handled_call", 2.0, "EUR"))
    result = equal_service(local_hours(), DeskHours(euro, {"09": NINE}, days=5, repeated=0))
    assert result["comparable"] is False
    assert result["verdict"].endswith("they cannot be compared: different currencies (USD, EUR)")
    plain = equal_service(local_hours(), DeskHours(Desk("bpo", "Offshore"), {"09": NINE}, 5, 0))
    assert plain["verdict"].endswith("different currencies (USD, no cost model)")


def test_a_desk_without_abandons_is_staffed_by_erlang_c_under_both():
    calm = DeskHours(LOCAL, {"09": NINE._replace(abandoned=0, short_abandoned=0)}, days=5, repeated=0)
    section = equal_service(calm, bpo_hours())["desks"]["local"]
    assert section["patience"] is None
    hour = section["hours"][0]
    assert hour["erlang_a"] == hour["erlang_c"] | {"abandon_rate": 0.0}


def test_a_desk_that_cannot_be_staffed_says_why():
    silent = DeskHours(BPO, {"09": DeskSums()}, days=5, repeated=0)
    result = equal_service(local_hours(), silent)
    assert result["desks"]["bpo"]["why"] == "no offered calls"
    assert result["verdict"] == "at equal service (80% within 20 s): bpo cannot be costed: no offered calls"
    untimed = DeskHours(BPO, {"09": DeskSums(offered=5, abandoned=5, queued_seconds=100)}, days=1, repeated=0)
    assert "no answered call with a talk time" in equal_service(untimed, local_hours())["verdict"]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="days: 0 must be more than 0"):
        DeskHours(LOCAL, {}, days=0, repeated=0)
    with pytest.raises(ValueError, match="hours: 24 are not hours of the day"):
        DeskHours(LOCAL, {"24": NINE}, days=1, repeated=0)
    with pytest.raises(ValueError, match="target: 80 must be a share"):
        equal_service(local_hours(), bpo_hours(), target=80)
    with pytest.raises(ValueError, match="two different desks, not 'local' twice"):
        equal_service(local_hours(), local_hours())


def test_definitions_state_the_target_and_every_model():
    words = definitions(0.9, 30)
    assert "90% of offered calls within 30 s" in words["equal_service"]
    parts = ("arrivals", "aht", "patience", "erlang_c", "erlang_a", "agents", "costs")
    assert {f"equal_service_{part}" for part in parts} <= set(words)


def test_the_report_keeps_its_own_definitions_beside_the_equal_service_ones():
    # merged into one report's definitions, no equal-service text may replace a metric's own
    own, mode_words = set(metric_definitions(MetricSettings())), set(modes.definitions())
    assert not set(definitions()) & (own | mode_words)
    assert not own & mode_words


def test_with_the_same_volume_a_smaller_desk_loses_no_economies_of_scale():
    # Two agent-hour desks alike in all but volume: 40 calls an hour at one, 200 at the other (09:00).
    small_local = DeskHours(LOCAL, {"09": _volume(NINE, 200)}, days=5, repeated=0)
    big = DeskHours(Desk("big", "Big", cost=LOCAL.cost, telephony_per_minute=0.01), {"09": NINE}, 5, 0)
    own = equal_service(small_local, big)
    costs = [own["desks"][d]["erlang_c"]["cost_per_call"] for d in ("local", "big")]
    assert costs[0] > costs[1] * 1.1  # the small queue needs more agents per call (Erlang C)
    assert own["calls_per_day"] is None
    same = equal_service(small_local, big, same_volume=True)
    assert same["calls_per_day"] == pytest.approx(40 + 200)
    for name in ("local", "big"):
        (hour,) = same["desks"][name]["hours"]
        assert hour["calls_per_hour"] == pytest.approx(240)
        assert hour["erlang_c"]["agents"] == agents_needed(240, 180, 0.8, 20).agents
    alike = [same["desks"][d]["erlang_c"]["cost_per_call"] for d in ("local", "big")]
    assert alike[0] == pytest.approx(alike[1])  # the same work, the same handle time: the same cost
    assert "each desk taking both desks' 240 calls a day" in same["verdict"]


def _volume(sums: DeskSums, offered: int) -> DeskSums:
    """The hour's sums scaled to `offered` calls (the same handle time, patience and minutes per call)."""
    scale = offered / sums.offered
    return DeskSums(*(round(value * scale) for value in sums))
