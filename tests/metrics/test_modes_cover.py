"""What each mode's figures, charts, equal service and power cover, on hand-made logs: the report's time zone
changes no verdict, left-out segments stay out of the adjusted charts, the randomised arm's mix is tested."""

from __future__ import annotations

from typing import Any

import pytest

from .test_modes import calls, rows, simpson
from .test_sql import run, source  # noqa: F401 (source: every test from the calls and the rollups)

MODES = ("randomised", "adjusted", "raw")


def staffed_calls(result: dict[str, Any], desk: str) -> float:
    """The calls a day equal service staffed a desk for (its calls per hour, summed)."""
    return sum(hour["calls_per_hour"] for hour in result["equal_service"]["desks"][desk]["hours"])


def own_calls(result: dict[str, Any], desk: str) -> float:
    """The desk's own calls that equal service covers: its offered calls in the mode's figures."""
    return float(result["desks"][desk]["offered"])


@pytest.mark.parametrize("mode", MODES)
def test_the_report_s_time_zone_changes_no_verdict(session, mode):
    simpson(session)  # 15:00 and 16:00 UTC: one day in Chicago, two in Manila (23:00 and 00:00)
    calls(session, "bpo", "billing", 20, 1, assignment="split", hour=17)  # 40 split calls: randomised too
    chicago = run(session, options={"mode": mode, "timezone": "America/Chicago", "detect": "aht:5"})
    manila = run(session, options={"mode": mode, "timezone": "Asia/Manila", "detect": "aht:5"})
    assert chicago["breakdowns"]["hour"] != manila["breakdowns"]["hour"]  # the charts do follow the zone
    assert chicago["equal_service"] == manila["equal_service"]
    powers = [[row["power"] for row in result["comparison"]] for result in (chicago, manila)]
    assert powers[0] == powers[1] and any(power and power["days"] for power in powers[0])
    # each desk in its own zone: the local desk (Chicago) had calls on one day, the BPO (Manila) on two
    # (its split calls, at 16:00 and 17:00 UTC, on one: 00:00 and 01:00 there)
    days = {name: section["days"] for name, section in chicago["equal_service"]["desks"].items()}
    assert days == {"local": 1, "bpo": 1 if mode == "randomised" else 2}


def test_equal_service_covers_the_calls_of_the_mode(session):
    simpson(session)
    calls(session, "bpo", "billing", 20, 1, assignment="split", hour=17)  # split: local 80, bpo 40
    calls(session, "local", "operator", 12, 1, hour=18)  # only the local desk: left out when adjusted
    said = {}
    for mode, local, bpo in (("randomised", 80, 40), ("adjusted", 100, 120), ("raw", 112, 120)):
        result = run(session, options={"mode": mode})
        assert (own_calls(result, "local"), own_calls(result, "bpo")) == (local, bpo)
        # equal work: both desks staffed for both desks' calls a day (each desk's calls on its own days)
        days = {desk: result["equal_service"]["desks"][desk]["days"] for desk in ("local", "bpo")}
        both = local / days["local"] + bpo / days["bpo"]
        assert result["equal_service"]["calls_per_day"] == pytest.approx(both)
        assert (staffed_calls(result, "local"), staffed_calls(result, "bpo")) == pytest.approx((both, both))
        assert f"each desk taking both desks' {both:,.0f} calls a day" in result["equal_service"]["verdict"]
        said[mode] = result["equal_service"]["verdict"]
    head = "at equal service (80% within 20 s), on the calls a split assigned, "
    assert said["randomised"].startswith(head)
    assert "on the segments both desks serve, each desk taking" in said["adjusted"]
    assert "on every call of each desk: different work, each desk taking" in said["raw"]
    tech = run(session, options={"mode": "raw", "segment": "tech"})
    assert (own_calls(tech, "local"), own_calls(tech, "bpo")) == (20, 80)
    assert "in segment tech, on every call of each desk" in tech["equal_service"]["verdict"]


def test_the_adjusted_charts_and_paths_leave_out_what_the_figures_leave_out(session):
    simpson(session)
    calls(session, "local", "operator", 12, 1, hour=18)  # only the local desk
    calls(session, "bpo", "spanish", 15, 2, hour=19)  # only the BPO
    result = run(session, options={"mode": "adjusted", "timezone": "UTC"})
    assert [item["segment"] for item in result["modes"]["adjusted"]["left_out"]] == ["operator", "spanish"]
    hours = {row["key"]: row["desks"] for row in result["breakdowns"]["hour"]}
    assert hours["18"]["local"]["offered"] == 0 and hours["19"]["bpo"]["offered"] == 0
    for desk in ("local", "bpo"):
        charted = sum(row["desks"][desk]["offered"] for row in result["breakdowns"]["hour"])
        paths = sum(row["desks"][desk]["offered"] for row in result["breakdowns"]["path"])
        assert charted == paths == result["desks"][desk]["offered"] == 100
    raw = run(session, options={"mode": "raw", "timezone": "UTC"})
    assert sum(row["desks"]["local"]["offered"] for row in raw["breakdowns"]["hour"]) == 112


@pytest.mark.parametrize(("bpo_billing", "bpo_tech", "differs"), [(20, 80, True), (30, 20, False)])
def test_the_randomised_arm_warns_when_the_desks_split_calls_mix_differently(
    session, bpo_billing, bpo_tech, differs
):
    # e.g. billing split 75/25 between the desks and tech 33/67: each split fair, the pooled arm not
    calls(session, "local", "billing", 60, 3, assignment="split")
    calls(session, "local", "tech", 40, 10, assignment="split", hour=16)
    calls(session, "bpo", "billing", bpo_billing, 1, assignment="split")
    calls(session, "bpo", "tech", bpo_tech, 5, assignment="split", hour=16)
    result = run(session)
    assert result["mode"] == "randomised" and result["modes"]["randomised"]["mixes_differ"] is differs
    assert ("compare per segment (segment=)" in result["modes"]["randomised"]["why"]) is differs
    if differs:  # Pearson's chi-square on [[60, 40], [20, 80]]: expected 40 and 60 a row, 2 (400/40 + 400/60)
        said = "split calls spread differently over segments (chi-square 33.3, df 1, p < 0.001)"
        assert said in result["mode_reason"]
    else:  # 60:40 and 30:20, the same mix: chi-square 0
        assert "spread differently" not in result["mode_reason"]
    assert "not necessarily these two" in result["definitions"]["randomised"]
    assert "repeat calls are not independent" in result["definitions"]["randomised"]


def test_a_case_mix_test_on_small_counts_says_it_is_rough(session):
    calls(session, "local", "tech", 3, 1)
    calls(session, "local", "billing", 40, 2, hour=16)
    calls(session, "bpo", "tech", 2, 0)
    calls(session, "bpo", "billing", 40, 2, hour=16)
    mix = run(session, options={"mode": "raw"})["case_mix"]
    # expected tech calls at each desk: 5 x 43/85 = 2.53 and 5 x 42/85 = 2.47 (Cochran: under 5 is rough)
    assert mix["min_expected"] == pytest.approx(5 * 42 / 85)
    assert mix["message"].endswith("(rough: an expected count is under 5).")


def test_a_large_case_mix_test_is_not_called_rough(session):
    simpson(session)
    mix = run(session, options={"mode": "raw"})["case_mix"]
    assert mix["min_expected"] == pytest.approx(50) and "rough" not in mix["message"]


@pytest.mark.parametrize("mode", MODES)
def test_cost_rows_say_where_to_look_in_words(session, mode):
    simpson(session)
    calls(session, "bpo", "billing", 20, 1, assignment="split", hour=17)
    result = run(session, options={"mode": mode})
    for row in rows(result).values():
        assert "mode=" not in row["verdict"] and "equal_service" not in row["verdict"], row
    if mode != "raw":
        assert "see the raw mode, and cost at equal service below" in rows(result)["total_cost"]["verdict"]
