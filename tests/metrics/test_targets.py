"""The wallboard's pure part: when a desk's day starts, and each figure against its target, at the edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.engine.site import Desk, Targets
from ivr.metrics.definitions import DeskSums, MetricSettings
from ivr.metrics.targets import MET, MISSED, day_start, desk_row, judged, settings_for

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "zone", "start"),
    [
        (NOW, "America/Chicago", datetime(2026, 11, 24, 6, 0, tzinfo=UTC)),
        (NOW, "Asia/Manila", NOW),  # midnight in Manila exactly
        (NOW - timedelta(minutes=1), "Asia/Manila", NOW - timedelta(days=1)),
        (NOW, "UTC", datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
        # the day the clocks go back in Chicago is 25 hours long: it began at 05:00 UTC (CDT)
        (datetime(2026, 11, 1, 20, tzinfo=UTC), "America/Chicago", datetime(2026, 11, 1, 5, tzinfo=UTC)),
    ],
)
def test_a_desks_day_starts_at_midnight_in_its_time_zone(now, zone, start):
    assert day_start(now, zone) == start


def test_the_threshold_is_the_reports_unless_the_desk_sets_one():
    assert settings_for(Targets()) == MetricSettings()
    assert settings_for(Targets(service_level_seconds=45)).service_level_seconds == 45


def sums(
    offered: int, in_time: int, short: int = 0, abandoned: int = 0, waits: tuple[int, ...] = ()
) -> DeskSums:
    return DeskSums(
        offered=offered, answered=len(waits), abandoned=abandoned + short, short_abandoned=short,
        answered_in_time=in_time, wait_n=len(waits), wait_sum=sum(waits),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("figures", "targets", "expected"),
    [
        # 4 of 5 eligible in time is exactly 80 %: met; a short abandon is not eligible
        (sums(6, 4, short=1, waits=(0, 0, 0, 0, 30)), Targets(), MET),
        (sums(5, 3, waits=(0, 0, 0, 30, 30)), Targets(), MISSED),
        (sums(3, 1, waits=(0,)), Targets(service_level_percent=33.3), MET),
        (sums(0, 0), Targets(), None),  # nothing offered yet
        (sums(5, 0), Targets(service_level_percent=None), None),  # no target
    ],
)
def test_service_level_against_its_target(figures, targets, expected):
    assert judged(figures, targets, None, MetricSettings())["service_level"] == expected


@pytest.mark.parametrize(
    ("waits", "target", "expected"),
    [((20, 40), 30, MET), ((20, 41), 30, MISSED), ((), 30, None), ((90,), None, None)],
)
def test_asa_against_its_target(waits, target, expected):
    figures = sums(len(waits), 0, waits=waits)
    assert judged(figures, Targets(asa_seconds=target), None, MetricSettings())["asa"] == expected


@pytest.mark.parametrize(("abandoned", "short", "expected"), [(1, 0, MET), (1, 5, MET), (2, 0, MISSED)])
def test_abandonment_against_its_target(abandoned, short, expected):
    # 20 offered: 1 of 20 is 5 % (met); short abandons leave both sides of the rate
    figures = sums(20 + short, 0, short=short, abandoned=abandoned)
    verdicts = judged(figures, Targets(abandonment_percent=5), None, MetricSettings())
    assert verdicts["abandonment_rate"] == expected


@pytest.mark.parametrize(("wait", "expected"), [(None, None), (20, MET), (21, MISSED)])
def test_the_longest_wait_against_the_service_level_threshold(wait, expected):
    assert judged(sums(0, 0), Targets(), wait, MetricSettings())["longest_wait"] == expected


def test_a_desk_row_names_its_threshold_and_targets():
    desk = Desk("phone", "Answering service", dial="+15125550199", targets=Targets(30, 90.0, 20.0, None))
    settings = settings_for(desk.targets)
    row = desk_row(desk, {"waiting": 0}, sums(2, 2, waits=(5, 7)), NOW, settings)
    assert (row["takes_calls_by"], row["day_started_at"]) == ("dial", NOW.isoformat())
    assert row["now"] == {"waiting": 0}
    assert row["targets"] == {
        "service_level_seconds": 30, "service_level_percent": 90.0, "asa_seconds": 20.0,
        "abandonment_percent": None,
    }  # fmt: skip
    assert row["today"]["service_level"] == 1.0 and row["today"]["asa"] == 6.0
    assert row["status"] == {"service_level": MET, "asa": MET, "abandonment_rate": None, "longest_wait": None}
