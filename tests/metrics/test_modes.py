"""The comparison modes on hand-made call logs with known answers: randomised (intention to treat),
adjusted (direct standardisation), raw, the default rule, the segment filter, case mix and power."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from .test_sql import DAY, at, leg, run, source  # noqa: F401 (source: every test from the calls and the rollups)

_numbers = itertools.count(1000)


def calls(
    s: Any, desk: str, segment: str | None, offered: int, abandoned: int, *, assignment: str | None = None,
    talk: int = 300, hour: int = 15, overflow_from: str | None = None,
) -> None:  # fmt: skip
    """`offered` calls of one segment at a desk, the first `abandoned` of them abandoned after 30 s, the
    others answered after 10 s with `talk` seconds of talk (each from its own number: no repeats)."""
    for i in range(offered):
        answered = i >= abandoned
        leg(
            s, desk, at(hour, i % 60), "bridged" if answered else "hangup", 10 if answered else 30,
            talk=talk + i % 3 if answered else None, duration=60, number=f"+1555{next(_numbers):07d}",
            segment=segment, assignment=assignment, overflow_from=overflow_from,
        )  # fmt: skip


def simpson(s: Any) -> None:
    """Local takes mostly billing (easy), the BPO mostly tech (hard); local does worse in both segments.

    Abandonment: local tech 8/20, billing 4/80 (12% overall); BPO tech 24/80, billing 0/20 (24% overall).
    """
    calls(s, "local", "tech", 20, 8)
    calls(s, "local", "billing", 80, 4, assignment="split", hour=16)
    calls(s, "bpo", "tech", 80, 24)
    calls(s, "bpo", "billing", 20, 0, assignment="split", hour=16)


def rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["metric"]: row for row in result["comparison"]}


def test_raw_and_adjusted_disagree_in_sign(session):
    simpson(session)
    raw = run(session, options={"mode": "raw"})
    assert rows(raw)["abandonment_rate"]["difference"] == pytest.approx(0.12 - 0.24)  # local looks better
    assert rows(raw)["abandonment_rate"]["significant"] is True
    adjusted = run(session)  # 20 and 80 split calls: not 30 at each desk, so adjusted by default
    assert adjusted["mode"] == "adjusted" and "standardised" in adjusted["mode_reason"]
    # Direct standardisation (Rothman, Greenland & Lash): weights 100/200 for tech and for billing;
    # local 0.5 x 8/20 + 0.5 x 4/80 = 0.225, BPO 0.5 x 24/80 + 0.5 x 0/20 = 0.15
    rate = rows(adjusted)["abandonment_rate"]
    assert (rate["a"], rate["b"], rate["difference"]) == pytest.approx((0.225, 0.15, 0.075))
    # variances (Agresti & Caffo 2000): sum of w^2 p (1 - p) / (n + 2), p = (x + 1) / (n + 2): local
    # 0.25 (9/22 x 13/22 / 22 + 5/82 x 77/82 / 82), BPO 0.25 (25/82 x 57/82 / 82 + 1/22 x 21/22 / 22) (billing
    # 0/20 now adds a little); 0.0029216 + 0.0011392, the interval 0.075 +/- 1.959964 sqrt(0.0040607)
    local = 0.25 * (9 / 22 * 13 / 22 / 22 + 5 / 82 * 77 / 82 / 82)
    bpo = 0.25 * (25 / 82 * 57 / 82 / 82 + 1 / 22 * 21 / 22 / 22)
    half = 1.959964 * math.sqrt(local + bpo)
    assert half == pytest.approx(0.124896, abs=1e-6)
    assert (rate["ci_low"], rate["ci_high"]) == pytest.approx((0.075 - half, 0.075 + half), abs=1e-6)
    assert rate["significant"] is False and rate["mode"] == "adjusted"
    assert rate["power"]["size_from"] == "observed" and rate["power"]["size"] == pytest.approx(0.075)
    assert adjusted["desks"]["local"]["offered"] == 100 and adjusted["desks"]["local"]["wait_p50"] is None
    assert adjusted["desks"]["local"]["total_cost"] is None
    assert rows(adjusted)["total_cost"]["verdict"].startswith("not standardised")
    described = adjusted["modes"]["adjusted"]
    assert (described["available"], described["segments"], described["left_out"]) == (
        True,
        ["billing", "tech"],
        [],
    )


def test_the_raw_view_says_plainly_when_the_case_mixes_differ(session):
    simpson(session)
    result = run(session, options={"mode": "raw"})
    mix = result["case_mix"]
    # Pearson's chi-square on [[20, 80], [80, 20]]: expected 50 each, (30^2 / 50) x 4 = 72, df 1
    assert (mix["statistic"], mix["df"], mix["differs"]) == (pytest.approx(72.0), 1, True)
    assert mix["p_value"] < 1e-6
    assert "take different work" in mix["message"]
    assert "mode=randomised or mode=adjusted" in mix["message"]
    assert all(row["mode"] == "raw" for row in result["comparison"])


def test_segments_one_desk_never_serves_are_left_out_and_listed(session):
    simpson(session)
    calls(session, "local", "operator", 5, 1, hour=17)
    calls(session, "bpo", "spanish", 7, 2, hour=17)
    result = run(session, options={"mode": "adjusted"})
    assert result["modes"]["adjusted"]["segments"] == ["billing", "tech"]
    assert result["modes"]["adjusted"]["left_out"] == [
        {"segment": "operator", "desk": "local", "calls": 5},
        {"segment": "spanish", "desk": "bpo", "calls": 7},
    ]
    assert rows(result)["abandonment_rate"]["a"] == pytest.approx(0.225)  # unchanged: operator is left out
    assert result["desks"]["local"]["offered"] == 100  # the calls used
    table = {entry["segment"]: entry for entry in result["segments"]}
    assert list(table) == ["billing", "tech", "spanish", "operator"]  # most offered first
    assert (
        table["operator"]["desks"]["local"]["offered"] == 5
        and table["operator"]["desks"]["bpo"]["offered"] == 0
    )
    tech = {row["metric"]: row for row in table["tech"]["comparison"]}
    assert tech["abandonment_rate"]["difference"] == pytest.approx(0.4 - 0.3)


def test_a_segment_with_a_handful_of_calls_at_a_desk_is_left_out(session):
    simpson(session)
    calls(session, "local", "support", 12, 3, hour=17)
    calls(session, "bpo", "support", 9, 0, hour=17)  # e.g. a few calls the local desk's overflow sent on
    result = run(session, options={"mode": "adjusted"})
    assert result["modes"]["adjusted"]["segments"] == ["billing", "tech"]
    assert result["modes"]["adjusted"]["left_out"] == [
        {"segment": "support", "desk": "local", "calls": 12},
        {"segment": "support", "desk": "bpo", "calls": 9},
    ]
    assert "under 10 calls at a desk" in result["modes"]["adjusted"]["why"]
    assert rows(result)["abandonment_rate"]["a"] == pytest.approx(0.225)  # support carries no weight
    calls(session, "bpo", "support", 1, 0, hour=18)  # the tenth: now standardised over
    assert run(session, options={"mode": "adjusted"})["modes"]["adjusted"]["segments"] == [
        "billing", "support", "tech"
    ]  # fmt: skip


def test_randomised_compares_only_split_calls(session):
    simpson(session)
    calls(session, "bpo", "billing", 20, 1, assignment="split", hour=17)  # now 80 and 40 split calls
    result = run(session)
    assert result["mode"] == "randomised"
    assert result["mode_reason"] == "both desks have at least 30 calls assigned by a split (local 80, bpo 40)"
    assert result["modes"]["randomised"]["calls"] == {"local": 80, "bpo": 40}
    local, bpo = result["desks"]["local"], result["desks"]["bpo"]
    assert (local["offered"], local["abandoned"], bpo["offered"], bpo["abandoned"]) == (80, 4, 40, 1)
    assert (local["wait_p90"], local["total_cost"]) == (10, None)
    assert rows(result)["cost_per_call"]["verdict"].startswith("not shown in the randomised mode")
    hours = {row["key"]: row["desks"]["bpo"]["offered"] for row in result["breakdowns"]["hour"]}
    assert (hours["15"], hours["16"], hours["17"]) == (0, 20, 20)  # the split calls only (the zone is UTC)


def test_a_split_call_sent_on_by_an_overflow_counts_where_the_split_sent_it(session):
    calls(session, "local", "billing", 40, 0, assignment="split")
    calls(session, "bpo", "billing", 40, 0, assignment="split")
    # three split calls the local desk's overflow sent on to the BPO, which answered them
    calls(session, "bpo", "billing", 3, 0, assignment="split", overflow_from="local", hour=17)
    randomised = run(session, options={"mode": "randomised"})
    assert randomised["desks"]["local"]["offered"] == 43 and randomised["desks"]["local"]["overflows"] == 3
    assert randomised["desks"]["bpo"]["offered"] == 40 and randomised["desks"]["bpo"]["answered"] == 40
    raw = run(session, options={"mode": "raw"})
    assert raw["desks"]["bpo"]["offered"] == 43 and raw["desks"]["local"]["offered"] == 43  # both, as before


def test_all_calls_in_one_segment_compare_raw_by_default(session):
    calls(session, "local", None, 10, 2)
    calls(session, "bpo", None, 10, 5)
    result = run(session)
    assert result["mode"] == "raw" and "all in one segment ((none))" in result["mode_reason"]
    assert result["modes"]["adjusted"]["available"] is True
    assert result["case_mix"]["df"] == 0 and result["case_mix"]["differs"] is False


def test_the_segment_filter(session):
    simpson(session)
    result = run(session, options={"segment": "tech"})
    assert result["segment"] == "tech" and result["mode"] == "raw"
    assert result["desks"]["local"]["offered"] == 20 and result["desks"]["bpo"]["offered"] == 80
    assert rows(result)["abandonment_rate"]["difference"] == pytest.approx(0.1)
    assert [entry["segment"] for entry in result["segments"]] == ["tech"]
    assert result["segment_choices"] == ["billing", "tech"]  # what the filter could choose instead
    paths = {row["key"] for row in result["breakdowns"]["path"]}
    assert paths == {"(none)"} and result["breakdowns"]["path"][0]["desks"]["bpo"]["offered"] == 80


def test_power_for_a_difference_asked_for(session):
    simpson(session)
    result = run(session, options={"mode": "adjusted", "detect": "abandonment_rate:0.05"})
    power = rows(result)["abandonment_rate"]["power"]
    # Fleiss: rates 0.05 apart around the mean 0.1875: 0.1625 and 0.2125, n = (1.959964 sqrt(2 x 0.1875 x
    # 0.8125) + 0.841621 sqrt(0.1625 x 0.8375 + 0.2125 x 0.7875))^2 / 0.05^2
    p1, p2, p = 0.1625, 0.2125, 0.1875
    n = (1.959964 * math.sqrt(2 * p * (1 - p)) + 0.841621 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    assert power["calls_per_desk"] == math.ceil(n / 0.05**2)
    assert power["size_from"] == "requested" and power["more_per_desk"] == power["calls_per_desk"] - 100
    # each desk's rate over its own days with calls, in its own zone: local (Chicago) 100 calls on one day;
    # the BPO (Manila) 100 on two (15:00 UTC is 23:00 there, 16:00 UTC the next day): 50 a day
    assert power["days"] == math.ceil(power["more_per_desk"] / 50)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"mode": "fair"},
            "mode: 'fair' is not a comparison mode (choose one of: randomised, adjusted, raw)",
        ),
        (
            {"segment": "sales"},
            "segment: 'sales' is not a segment either desk served in the period "
            "(choose one of: billing, tech)",
        ),  # fmt: skip
        ({"detect": "aht"}, "detect: 'aht' is not metric:size"),
        (
            {"detect": "offered:3"},
            "detect: 'offered' is not a rate or a mean (choose one of: abandonment_rate",
        ),
        ({"detect": "abandonment_rate:2"}, "detect: the size for abandonment_rate must be a share"),
        ({"target": 1.5}, "target: 1.5 must be a share between 0 and 1"),
        ({"within": -1}, "within: -1"),
    ],
)
def test_bad_options_name_the_parameter_and_the_choices(session, options, message):
    simpson(session)
    with pytest.raises(ValueError) as raised:
        run(session, options=options)
    assert message in str(raised.value)


def test_an_unavailable_mode_names_the_available_ones(session):
    calls(session, "local", "tech", 5, 1)
    calls(session, "bpo", "billing", 5, 1)
    with pytest.raises(ValueError, match=r"mode: randomised is not available: local and bpo had no calls .* "
                       r"\(choose one of: raw\)"):  # fmt: skip
        run(session, options={"mode": "randomised"})
    result = run(session)
    assert result["mode"] == "raw" and "no segment in common" in result["mode_reason"]
