"""Each metric on hand-built call logs with known answers, on SQLite and PostgreSQL (ivr.metrics.compare)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from ivr.engine.site import Site
from ivr.metrics import MetricSettings, compare
from ivr.metrics.rollup import refresh
from ivr.metrics.tables import rollup_dirty
from ivr.models import Call

DAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
PERIOD = (DAY, DAY + timedelta(days=1))
NOW = DAY + timedelta(days=30)  # the rollups' clock: after every day the tests build
_sids = itertools.count()


def site(**desks: dict[str, Any]) -> Site:
    """A site with the given desks (each needs little more than a time zone and a cost model)."""
    entries = {
        name: {"label": f"{name} desk", "queue": f"{name}-q", "telephony_per_minute": 0.01} | entry
        for name, entry in desks.items()
    }
    return Site.from_json({"desks": entries, "fallback": {"desk": next(iter(entries))}}, {})


SITE = site(
    local={
        "timezone": "America/Chicago",
        "cost": {"model": "handled_call", "amount": 2.0, "currency": "USD"},
    },
    bpo={"timezone": "Asia/Manila", "cost": {"model": "handled_minute", "amount": 0.6, "currency": "USD"}},
)


def leg(
    s, desk: str | None, at: datetime, result: str | None = None, wait: int | None = None, *,
    talk: int | None = None, score: int | None = None, duration: int | None = None, number: str = "+15550001",
    role: str = "caller", overflow_from: str | None = None, path: str | None = None, queued: bool = False,
    segment: str | None = None, assignment: str | None = None, strategy: str | None = None,
) -> Call:  # fmt: skip
    """One call leg in the log."""
    call = Call(
        segment=segment, assignment=assignment, route_strategy=strategy,
        call_sid=f"CA{next(_sids):032d}", from_number=number, to_number="+15125550100", role=role,
        status="completed", started_at=at, duration=duration, desk=desk, queue_result=result, queue_time=wait,
        talk_time=talk, survey_score=score, overflow_from=overflow_from, path=path,
        queued_at=at if queued else None,
    )  # fmt: skip
    s.add(call)
    s.flush()
    return call


@pytest.fixture(autouse=True, params=["from the calls", "from the rollups"])
def source(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test twice: the report reads the calls, then the daily rollups built just before it."""
    global ROLLED
    ROLLED = request.param == "from the rollups"
    yield request.param
    ROLLED = False


ROLLED = False


def run(
    s, a: str = "local", b: str = "bpo", period=PERIOD, the_site: Site = SITE,
    options: dict[str, Any] | None = None, **settings: int,
) -> Any:  # fmt: skip
    """compare() with the thresholds given and its keyword options (mode, segment, timezone...)."""
    s.commit()
    if ROLLED:
        refresh(s, NOW)
        assert s.scalar(select(func.count()).select_from(rollup_dirty)) == 0, "every day is built"
    return compare(s, the_site, a, b, *period, MetricSettings(**settings), **(options or {}))


def at(hour: int, minute: int = 0, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


def small_log(s) -> None:
    """The local desk's day: three answered, a short and a long abandon, one sent on, one never queued."""
    leg(s, "local", at(15), "bridged", 10, talk=120, score=5, duration=200, number="+1001", path="m:1")
    leg(s, "local", at(15, 10), "bridged", 30, talk=300, score=3, duration=400, number="+1002", path="m:1")
    leg(s, "local", at(16), "bridged", 20, talk=60, duration=100, number="+1003", path="m:2")
    leg(s, "local", at(16, 5), "hangup", 3, duration=30, path="m:2")
    leg(s, "local", at(17), "hangup", 40, duration=70, path="m:2")
    leg(s, "local", at(17, 30), "leave", 240, duration=300, path="m:1")
    leg(s, "local", at(18), None, None, duration=20)  # routed to the desk but hung up before its queue
    leg(s, "local", at(14), role="agent", duration=3600, number="+1999")  # an agent's own leg
    leg(s, "local", PERIOD[1], "bridged", 5, talk=10, duration=30)  # `until` is excluded
    leg(s, "local", PERIOD[0] - timedelta(microseconds=1), "bridged", 5, duration=30)  # before `since`
    # later calls of the same numbers, at any desk and after the period: repeats within 7 days
    leg(s, "bpo", at(15, day=DAY + timedelta(days=3)), "hangup", 50, number="+1001")
    leg(s, "bpo", at(15, 10, day=DAY + timedelta(days=8)), "bridged", 5, number="+1002")
    leg(s, None, at(16, day=DAY + timedelta(days=7)), number="+1003")  # exactly 7 days later: a repeat
    leg(s, "bpo", at(15, 1, day=DAY + timedelta(days=1)), role="agent", number="+1002")  # agents never repeat


def test_each_metric_on_a_small_log(session):
    small_log(session)
    result = run(session)
    local = result["desks"]["local"]
    expected = {
        "offered": 6, "answered": 3, "abandoned": 2, "short_abandoned": 1, "abandonment_rate": 1 / 5,
        "asa": 20.0, "wait_p50": 20, "wait_p90": 30, "service_level": 2 / 5, "aht": 160.0, "overflows": 1,
        "repeated": 2, "repeat_rate": 2 / 3, "csat": 4.0, "csat_top_two": 0.5, "csat_responses": 2,
        "csat_response_rate": 2 / 3, "currency": "USD",
    }  # fmt: skip
    assert {k: local[k] for k in expected} == pytest.approx(expected)
    telephony = (4 + 7 + 2 + 1 + 2 + 5 + 1 + 60) * 0.01  # started minutes of every leg, the agent's too
    assert local["total_cost"] == pytest.approx(telephony + 3 * 2.0)
    assert local["cost_per_call"] == pytest.approx((telephony + 6.0) / 3)
    assert local["cost_per_resolved_call"] == pytest.approx(telephony + 6.0)  # 3 answered - 2 repeated
    assert result["period"] == {"since": "2026-11-23T00:00:00Z", "until": "2026-11-24T00:00:00Z"}
    assert result["desks"]["bpo"]["offered"] == 0
    assert result["definitions"]["short_abandon_seconds"] == 5
    assert result["definitions"]["service_level_variant"] == "answered within T / (offered - short abandons)"


def test_thresholds_change_the_figures(session):
    small_log(session)
    local = run(session, short_abandon_seconds=0, service_level_seconds=30, repeat_days=8)["desks"]["local"]
    assert (local["short_abandoned"], local["abandonment_rate"]) == (0, pytest.approx(2 / 6))
    assert local["service_level"] == pytest.approx(3 / 6)
    assert (local["repeated"], local["repeat_rate"]) == (3, 1.0)  # the call 8 days later counts now
    assert local["cost_per_resolved_call"] is None  # every answered call was repeated


def test_breakdowns_by_local_hour_day_and_path(session):
    small_log(session)
    result = run(session, options={"timezone": "America/Chicago"})
    assert result["timezone"] == "America/Chicago"
    hours = {row["key"]: row["desks"]["local"] for row in result["breakdowns"]["hour"]}
    assert list(hours) == [f"{h:02d}" for h in range(24)]
    # 15:00 and 15:10 UTC are 09:00 and 09:10 in Chicago (CST, UTC-6)
    assert (hours["09"]["offered"], hours["09"]["answered"], hours["09"]["asa"]) == (2, 2, 20.0)
    assert (hours["10"]["offered"], hours["10"]["abandoned"], hours["10"]["short_abandoned"]) == (2, 1, 1)
    assert hours["10"]["abandonment_rate"] == 0.0  # (1 abandoned - 1 short) / (2 offered - 1 short)
    assert sum(h["offered"] for h in hours.values()) == 6
    days = result["breakdowns"]["day"]
    assert [row["key"] for row in days] == ["2026-11-23"]
    assert days[0]["desks"]["local"]["offered"] == 6 and days[0]["desks"]["bpo"]["offered"] == 0
    paths = {row["key"]: row["desks"]["local"] for row in result["breakdowns"]["path"]}
    assert list(paths) == ["m:1", "m:2", "(none)"]  # most offered first; the unqueued call is not offered
    assert paths["(none)"]["offered"] == 0
    assert (paths["m:1"]["offered"], paths["m:1"]["answered"], paths["m:1"]["overflows"]) == (3, 2, 1)
    assert paths["m:2"]["aht"] == 60.0 and paths["m:2"]["abandonment_rate"] == pytest.approx(1 / 2)


UNDEFINED_WITHOUT_CALLS = (
    "abandonment_rate", "asa", "wait_p50", "wait_p90", "service_level", "aht", "repeat_rate", "csat",
    "csat_response_rate", "cost_per_call", "cost_per_resolved_call",
)  # fmt: skip


def test_no_calls_at_all(session):
    result = run(session)
    for desk in result["desks"].values():
        assert (desk["offered"], desk["answered"], desk["total_cost"]) == (0, 0, 0.0)
        for figure in (
            "abandonment_rate",
            "asa",
            "wait_p50",
            "wait_p90",
            "service_level",
            "aht",
            "repeat_rate",
            "csat",
            "csat_response_rate",
            "cost_per_call",
            "cost_per_resolved_call",
        ):
            assert desk[figure] is None, figure  # fmt: skip
    rows = {row["metric"]: row for row in result["comparison"]}
    assert rows["abandonment_rate"]["verdict"] == "not enough data"
    assert rows["abandonment_rate"]["significant"] is None
    assert rows["offered"]["verdict"] == "the same"
    assert len(result["breakdowns"]["hour"]) == 24
    assert result["breakdowns"]["day"] == [] and result["breakdowns"]["path"] == []


def test_all_abandoned(session):
    for minute in range(4):
        leg(session, "local", at(15, minute), "hangup", 30 + minute, duration=60)
    leg(session, "bpo", at(15), "bridged", 10, talk=100, duration=200)
    leg(session, "bpo", at(16), "hangup", 60, duration=90)
    result = run(session)
    local = result["desks"]["local"]
    assert (local["offered"], local["abandoned"], local["abandonment_rate"]) == (4, 4, 1.0)
    assert (local["answered"], local["service_level"], local["asa"], local["cost_per_call"]) == (
        0,
        0.0,
        None,
        None,
    )
    row = next(r for r in result["comparison"] if r["metric"] == "abandonment_rate")
    assert row["difference"] == pytest.approx(0.5) and row["ci_low"] < 0.5 < row["ci_high"] <= 1.0
    assert row["verdict"] == "no significant difference"  # 4 against 2 calls cannot show it


def test_only_short_abandons(session):
    for minute in range(3):
        leg(session, "local", at(15, minute), "hangup", minute * 2, duration=10)  # waited 0, 2 and 4 s
    leg(session, "bpo", at(15), "hangup", 5, duration=10)  # 5 s is not short (< 5 s is)
    result = run(session)
    local, bpo = result["desks"]["local"], result["desks"]["bpo"]
    assert (local["offered"], local["abandoned"], local["short_abandoned"]) == (3, 3, 3)
    assert local["abandonment_rate"] is None and local["service_level"] is None  # 0 / (3 - 3)
    assert (bpo["short_abandoned"], bpo["abandonment_rate"]) == (0, 1.0)


def test_repeat_callers_across_desks(session):
    leg(session, "local", at(9), "bridged", 5, number="+1")
    leg(session, "bpo", at(10), "bridged", 5, number="+1")  # repeats the local call, is repeated by the next
    leg(session, "local", at(11), "hangup", 50, number="+1")  # not answered: repeats, is not a repeat itself
    leg(session, "bpo", at(9), "bridged", 5, number="+2")
    leg(session, "local", at(9), "bridged", 5, number="+2")  # the same instant: the one logged later is next
    leg(session, "bpo", at(12), "bridged", 5, number="+3")
    leg(session, "bpo", at(12, day=DAY + timedelta(days=7)) + timedelta(seconds=1), number="+3")  # too late
    result = run(session)
    local, bpo = result["desks"]["local"], result["desks"]["bpo"]
    assert (local["answered"], local["repeated"]) == (2, 1)
    assert (bpo["answered"], bpo["repeated"]) == (3, 2)


def test_a_campaigns_calls_from_one_caller_id_are_not_repeats(session):
    for hour in (9, 10, 11):  # answered outbound calls handed to the desk, all from the campaign's caller ID
        leg(session, "local", at(hour), "bridged", 1, number="+15125550100", role="callee")
    leg(session, "local", at(12), "bridged", 5, number="+15125550100")  # someone calling in from that number
    local = run(session)["desks"]["local"]
    assert (local["answered"], local["repeated"]) == (4, 0)


def test_withheld_numbers_are_not_repeats_of_each_other(session):
    for hour, number in enumerate(("", "anonymous", "+266696687", "+266696687", "")):
        leg(session, "local", at(9 + hour), "bridged", 5, number=number)
    local = run(session)["desks"]["local"]
    assert (local["answered"], local["repeated"]) == (5, 0)


def test_overflow_counts_as_offered_at_both_desks(session):
    leg(session, "bpo", at(15), "bridged", 15, talk=100, overflow_from="local", path="m:1")
    leg(session, "bpo", at(15, 5), "hangup", 30, overflow_from="local", path="m:1")
    leg(session, "local", at(15, 20), "leave", 240, path="m:1")  # sent to voicemail by the overflow
    leg(session, "local", at(16), "bridged", 10, talk=50)
    result = run(session)
    local, bpo = result["desks"]["local"], result["desks"]["bpo"]
    assert (local["offered"], local["overflows"], local["answered"], local["abandoned"]) == (4, 3, 1, 0)
    assert (bpo["offered"], bpo["answered"], bpo["abandoned"], bpo["overflows"]) == (2, 1, 1, 0)
    assert local["abandonment_rate"] == 0.0 and bpo["abandonment_rate"] == 0.5
    paths = {row["key"]: row["desks"] for row in result["breakdowns"]["path"]}
    assert paths["m:1"]["local"]["offered"] == 3 and paths["m:1"]["local"]["overflows"] == 3
    assert paths["(none)"]["local"]["offered"] == 1
    hours = {row["key"]: row["desks"]["local"]["overflows"] for row in result["breakdowns"]["hour"]}
    assert hours["15"] == 3  # the site has no schedule: hours in UTC


@pytest.mark.parametrize(
    ("model", "amount", "handling"),
    [
        ("handled_minute", 0.6, (120 + 60) / 60 * 0.6),
        ("handled_call", 2.0, 2 * 2.0),
        ("agent_hour", 30.0, 45.0),
    ],
)
def test_costs_per_model(session, model, amount, handling):
    priced = site(
        local={"timezone": "UTC", "cost": {"model": model, "amount": amount, "currency": "EUR"}},
        bpo={"timezone": "UTC"},
    )
    leg(session, "local", at(10), "bridged", 5, talk=120, duration=130)
    leg(session, "local", at(11), "bridged", 5, talk=60, duration=61)
    leg(session, "local", at(12), "hangup", 30, duration=40)
    leg(session, "local", at(9), role="agent", talk=180, duration=5400)  # 1.5 agent-hours
    leg(session, "bpo", at(9), role="agent", duration=3600)  # another desk's agent
    result = run(session, the_site=priced)
    local = result["desks"]["local"]
    telephony = (3 + 2 + 1 + 90) * 0.01
    assert local["currency"] == "EUR"
    assert local["total_cost"] == pytest.approx(telephony + handling)
    assert local["cost_per_call"] == pytest.approx((telephony + handling) / 2)
    bpo = result["desks"]["bpo"]
    assert (bpo["currency"], bpo["total_cost"]) == (None, pytest.approx(0.6))  # telephony only
    row = next(r for r in result["comparison"] if r["metric"] == "total_cost")
    assert row["difference"] is None and "different currencies" in row["verdict"]


def test_hours_and_days_of_both_desks_in_one_time_zone(session):
    zones = site(india={"timezone": "Asia/Kolkata"}, nepal={"timezone": "Asia/Kathmandu"})
    evening = DAY + timedelta(hours=18)
    for minute in (29, 31):  # 23:59 and 00:01 in India (UTC+5:30); 00:14 and 00:16 in Nepal (UTC+5:45)
        leg(session, "india", evening + timedelta(minutes=minute), "bridged", 5)
    for minute in (14, 16):  # 23:59 and 00:01 in Nepal; 23:44 and 23:46 in India
        leg(session, "nepal", evening + timedelta(minutes=minute), "hangup", 60)
    for zone, india, nepal in (("Asia/Kolkata", [1, 1], [2, 0]), ("Asia/Kathmandu", [0, 2], [1, 1])):
        options = {"timezone": zone}
        result = run(session, "india", "nepal", period=(None, None), the_site=zones, options=options)
        days = {row["key"]: row["desks"] for row in result["breakdowns"]["day"]}
        assert list(days) == ["2026-11-23", "2026-11-24"], zone
        assert [days[d]["india"]["answered"] for d in days] == india, zone
        assert [days[d]["nepal"]["abandoned"] for d in days] == nepal, zone
        hours = {row["key"]: row["desks"] for row in result["breakdowns"]["hour"]}
        assert [hours["23"]["india"]["offered"], hours["00"]["india"]["offered"]] == india, zone
        assert [hours["23"]["nepal"]["offered"], hours["00"]["nepal"]["offered"]] == nepal, zone
    assert run(session, "india", "nepal", the_site=zones)["timezone"] == "UTC"  # no schedule: UTC


def test_hours_across_the_end_of_daylight_saving_time(session):
    # Chicago falls back on 2026-11-01 at 02:00 CDT (07:00 UTC): 06:30 UTC and 07:30 UTC are both 01:30
    sunday = datetime(2026, 11, 1, tzinfo=UTC)
    leg(session, "local", sunday + timedelta(hours=6, minutes=30), "bridged", 5)
    leg(session, "local", sunday + timedelta(hours=7, minutes=30), "bridged", 5)
    leg(session, "local", sunday + timedelta(hours=5, minutes=59), "bridged", 5)  # 00:59 CDT
    leg(session, "local", sunday + timedelta(hours=4, minutes=59), "bridged", 5)  # Saturday 23:59 CDT
    result = run(session, period=(None, None), options={"timezone": "America/Chicago"})
    hours = {row["key"]: row["desks"]["local"]["offered"] for row in result["breakdowns"]["hour"]}
    assert (hours["01"], hours["00"], hours["23"]) == (2, 1, 1)
    days = {row["key"]: row["desks"]["local"]["offered"] for row in result["breakdowns"]["day"]}
    assert days == {"2026-10-31": 1, "2026-11-01": 3}


def test_days_between_calls_are_listed_with_zeros(session):
    leg(session, "local", at(15), "bridged", 5)
    leg(session, "bpo", at(15, day=DAY + timedelta(days=3)), "bridged", 5)
    days = run(session, period=(None, None), options={"timezone": "Asia/Manila"})["breakdowns"]["day"]
    # Manila is UTC+8: the BPO's call is on 2026-11-26 at 23:00 there
    assert [row["key"] for row in days] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert [row["desks"]["local"]["offered"] for row in days] == [1, 0, 0, 0]
    assert [row["desks"]["bpo"]["offered"] for row in days] == [0, 0, 0, 1]


def test_unknown_desks_and_bad_periods(session):
    with pytest.raises(ValueError, match="unknown desk 'nowhere'"):
        run(session, "local", "nowhere")
    with pytest.raises(ValueError, match="two different desks"):
        run(session, "local", "local")
    with pytest.raises(ValueError, match="since must be before until"):
        run(session, period=(PERIOD[1], PERIOD[0]))
    with pytest.raises(ValueError, match="timezone: 'Mars/Olympus' is not an IANA time zone"):
        run(session, options={"timezone": "Mars/Olympus"})
