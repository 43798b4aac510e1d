"""The comparison on every surface: `ivr report compare`, GET /api/reports/compare, per-call costs in
/api/calls, and an end-to-end run of the simulator whose report equals a recomputation from /api/calls."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ivr.accounts.tokens import create_token
from ivr.cli.main import main
from ivr.metrics import MetricSettings, compare
from ivr.metrics.definitions import ANSWERED_RESULTS
from ivr.sim import VirtualClock
from ivr.sim.profile import load_profile
from ivr.sim.runner import run_profile

from ..conftest import ROOT
from .test_sql import DAY, leg, small_log

QUERY = {"desks": "local,bpo", "since": "2026-11-23", "until": "2026-11-23"}  # the whole of that day
CLI_ARGS = ["report", "compare", "local", "bpo", "--since", "2026-11-23", "--until", "2026-11-23"]


@pytest.fixture
def api(client, session):
    """GET with an ops bearer token."""
    token = create_token(session, "reports")
    session.commit()

    def get(url: str, /, **params: Any) -> Any:
        return client.get(url, query_string=params or None, headers={"Authorization": f"Bearer {token}"})

    return get


def published_site(app):
    with app.app_context():
        return app.extensions["ivr.flows"].current().site


def test_the_command_line_and_the_api_give_the_same_numbers(app, env, session, api, runner):
    small_log(session)
    session.commit()
    site = published_site(app)
    direct = json.loads(json.dumps(compare(session, site, "local", "bpo", DAY, DAY + timedelta(days=1))))
    session.commit()
    from_api = api("/api/reports/compare", **QUERY)
    assert from_api.status_code == 200, from_api.json
    result = runner.invoke(main, [*CLI_ARGS, "--format", "json"])
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output)
    assert from_api.json == direct == from_cli
    local = direct["desks"]["local"]
    assert (local["offered"], local["answered"], local["abandonment_rate"]) == (6, 3, 0.2)
    # the sample site prices the local desk per agent-hour: 34 USD for the agent's hour on the line
    assert local["total_cost"] == pytest.approx(34.0 + 82 * 0.0085)

    table = runner.invoke(main, [*CLI_ARGS, "--format", "table"])
    assert table.exit_code == 0, table.output
    line = next(text for text in table.output.splitlines() if text.startswith("abandonment_rate"))
    assert "20.0 %" in line
    assert "service_level_variant: answered within T / (offered - short abandons)" in table.output
    assert "Local desk (Austin, in-house)" in table.output

    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*CLI_ARGS, "--format", "csv"]).output)))
    by_metric = {row["metric"]: row for row in rows}
    assert set(by_metric) == {row["metric"] for row in direct["comparison"]} | {"wait_p50", "wait_p90"}
    rate = by_metric["abandonment_rate"]
    assert (rate["desk_a"], rate["desk_b"], float(rate["a"]), rate["b"]) == ("local", "bpo", 0.2, "")
    assert (by_metric["wait_p90"]["a"], by_metric["offered"]["difference"]) == ("30", "6")


def test_thresholds_are_options_and_query_parameters(app, env, session, api, runner):
    small_log(session)
    session.commit()
    from_api = api("/api/reports/compare", **QUERY, short_abandon="0", service_level="30", repeat_days="8")
    cli = runner.invoke(
        main,
        [
            *CLI_ARGS,
            "--format",
            "json",
            "--short-abandon",
            "0",
            "--service-level",
            "30",
            "--repeat-days",
            "8",
        ],
    )
    assert json.loads(cli.output) == from_api.json
    local = from_api.json["desks"]["local"]
    assert (local["short_abandoned"], local["service_level"], local["repeated"]) == (0, 0.5, 3)
    assert from_api.json["definitions"]["service_level_seconds"] == 30


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "desks: give exactly two desk names"),
        ({"desks": "local"}, "desks: give exactly two desk names"),
        ({"desks": "local,local"}, "two different desks"),
        ({"desks": "local,nowhere"}, "unknown desk 'nowhere'"),
        ({"desks": "local,bpo", "since": "last week"}, "since: 'last week' is not an ISO 8601 date"),
        ({"desks": "local,bpo", "since": "2026-11-24", "until": "2026-11-20"}, "must be before until"),
        ({"desks": "local,bpo", "short_abandon": "-3"}, "short_abandon: '-3' is not a whole number"),
        (
            {"desks": "local,bpo", "repeat_days": "400"},
            "repeat_days: '400' is not a whole number from 1 to 366",
        ),
    ],
)
def test_bad_requests_are_400_with_a_clear_message(api, params, message):
    response = api("/api/reports/compare", **params)
    assert response.status_code == 400
    assert message in response.json["error"]["message"]


def test_the_report_needs_an_ops_token(client, session):
    assert client.get("/api/reports/compare?desks=local,bpo").status_code == 401
    partner = create_token(session, "bpo partner", desk="bpo")
    session.commit()
    response = client.get(
        "/api/reports/compare?desks=local,bpo", headers={"Authorization": f"Bearer {partner}"}
    )
    assert response.status_code == 403


def test_command_line_errors(env, runner):
    unknown = runner.invoke(main, ["report", "compare", "local", "nowhere"])
    assert unknown.exit_code == 1 and "unknown desk 'nowhere'" in unknown.output
    bad = runner.invoke(main, ["report", "compare", "local", "bpo", "--repeat-days", "0"])
    assert bad.exit_code == 2 and "repeat_days: '0' is not a whole number" in bad.output
    since = runner.invoke(main, ["report", "compare", "local", "bpo", "--since", "soon"])
    assert since.exit_code == 2 and "since: 'soon'" in since.output


def _all_calls(api) -> list[dict[str, Any]]:
    """Every leg over the API (`legs=all`: the agents' own legs too, which a report's agent time counts)."""
    calls, page = [], 1
    while True:
        body = api("/api/calls", per_page="500", page=str(page), legs="all").json
        calls += body["calls"]
        if not body["next"]:
            return calls
        page += 1


def test_each_call_carries_its_cost_and_they_add_up(app, session, api):
    small_log(session)
    leg(session, "bpo", DAY + timedelta(hours=15), "bridged", 12, talk=95, duration=130)
    session.commit()
    calls = {c["call_sid"]: c for c in _all_calls(api)}
    site = published_site(app)
    result = compare(session, site, "local", "bpo", DAY, DAY + timedelta(days=1))
    for desk in ("local", "bpo"):
        mine = [c for c in calls.values() if c["desk"] == desk and c["started_at"].startswith("2026-11-23")]
        assert sum(c["cost"] for c in mine) == pytest.approx(result["desks"][desk]["total_cost"])
    agent = next(c for c in calls.values() if c["role"] == "agent" and c["desk"] == "local")
    assert agent["cost"] == pytest.approx(60 * 0.0085 + 34.0)  # the local desk pays its agents by the hour
    answered = next(c for c in calls.values() if c["desk"] == "bpo" and c["talk_time"] == 95)
    assert answered["cost"] == pytest.approx(3 * 0.0085 + 95 / 60 * 0.62)  # BPO: per handled minute
    unrouted = next(c for c in calls.values() if c["desk"] is None)
    assert unrouted["cost"] is None
    exported = list(csv.DictReader(io.StringIO(api("/api/calls.csv").get_data(as_text=True))))
    assert {row["call_sid"]: row["cost"] for row in exported}[answered["call_sid"]] == str(answered["cost"])


# ---- end to end: the simulator's calls, the report, and the same figures recomputed from /api/calls ----


def _started(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call["started_at"])


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _nearest_rank(values: list[int], percent: int) -> int | None:
    ordered = sorted(values)
    return ordered[math.ceil(percent * len(ordered) / 100) - 1] if ordered else None


def recompute(
    calls: list[dict[str, Any]], site: Any, desk: str, since: datetime | None, settings: MetricSettings
) -> dict[str, Any]:
    """A desk's figures straight from the documented definitions (README, Metrics) over /api/calls rows."""
    callers = [c for c in calls if c["role"] == "caller"]  # people who called in: only they repeat
    period = [c for c in calls if since is None or _started(c) >= since]
    own = [c for c in period if c["role"] != "agent" and c["desk"] == desk]
    entered = [c for c in own if c["queue_result"] is not None or c["queued_at"] is not None]
    out = [c for c in period if c["role"] != "agent" and c["overflow_from"] == desk and c["desk"] != desk]
    answered = [c for c in own if c["queue_result"] in ANSWERED_RESULTS]
    abandoned = [c for c in own if c["queue_result"] == "hangup"]
    short = [
        c
        for c in abandoned
        if c["queue_time"] is not None and c["queue_time"] < settings.short_abandon_seconds
    ]
    offered = len(entered) + len(out)
    eligible = offered - len(short)
    waits = [c["queue_time"] for c in answered if c["queue_time"] is not None]
    talks = [c["talk_time"] for c in answered if c["talk_time"] is not None]
    scores = [c["survey_score"] for c in answered if c["survey_score"] is not None]
    repeated = 0
    for first in (c for c in answered if c["role"] == "caller"):
        later = [c for c in callers if c["from"] == first["from"] and _started(c) > _started(first)]
        if later:
            gap = math.floor(min(map(_started, later)).timestamp()) - math.floor(_started(first).timestamp())
            repeated += gap <= settings.repeat_days * 86400
    desk_config = site.desks[desk]
    legs = [c for c in period if c["desk"] == desk]
    telephony = sum(math.ceil((c["duration"] or 0) / 60) for c in legs) * desk_config.telephony_per_minute
    model, amount = desk_config.cost.model, desk_config.cost.amount
    handling = {
        "handled_minute": sum(c["talk_time"] or 0 for c in legs if c["role"] != "agent") / 60 * amount,
        "handled_call": sum(1 for c in legs if c["role"] != "agent" and c["queue_result"] in ANSWERED_RESULTS)
        * amount,
        "agent_hour": sum(c["duration"] or 0 for c in legs if c["role"] == "agent") / 3600 * amount,
    }[model]
    total = telephony + handling
    assert total == pytest.approx(sum(c["cost"] for c in legs))  # the per-call costs add up too
    return {
        "offered": offered,
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandoned": len(short),
        "abandonment_rate": _rate(len(abandoned) - len(short), eligible),
        "asa": _mean(waits),
        "wait_p50": _nearest_rank(waits, 50),
        "wait_p90": _nearest_rank(waits, 90),
        "service_level": _rate(sum(1 for w in waits if w <= settings.service_level_seconds), eligible),
        "aht": _mean(talks),
        "overflows": len(out) + sum(1 for c in own if c["queue_result"] == "leave"),
        "repeated": repeated,
        "repeat_rate": _rate(repeated, len(answered)),
        "csat": _mean(scores),
        "csat_top_two": _rate(sum(1 for s in scores if s >= 4), len(scores)),
        "csat_responses": len(scores),
        "csat_response_rate": _rate(len(scores), len(answered)),
        "total_cost": total,
        "cost_per_call": _rate(total, len(answered)),
        "cost_per_resolved_call": _rate(total, len(answered) - repeated),
    }


def test_simulated_traffic_report_equals_a_recomputation_from_the_call_log(app, env, api):
    profile = load_profile(ROOT / "profiles" / "acme.json")
    clock = VirtualClock(datetime(2026, 11, 23, tzinfo=UTC))
    traffic = run_profile(profile, 150, 2, clock, None, 11, lambda _n: None)
    assert traffic.summary()["errors"] == 0
    calls = _all_calls(api)
    callers = [c for c in calls if c["role"] == "caller"]  # people who called in: only they repeat
    starts = [(c["from"], c["started_at"]) for c in callers]
    assert len(set(starts)) == len(starts)  # no ties, so "the next call" needs no tie-break here
    site = published_site(app)
    settings = MetricSettings(short_abandon_seconds=5, service_level_seconds=30, repeat_days=1)
    for since in (None, datetime(2026, 11, 24, tzinfo=UTC)):
        # raw: every call, as the documented definitions recompute them (split calls alone: randomised)
        query = {"desks": "local,bpo", "service_level": "30", "repeat_days": "1", "mode": "raw"}
        report = api("/api/reports/compare", **query, **({"since": since.isoformat()} if since else {})).json
        for desk in ("local", "bpo"):
            expected = recompute(calls, site, desk, since, settings)
            shown = {key: report["desks"][desk][key] for key in expected}
            assert shown == pytest.approx(expected), (desk, since)
    whole = api("/api/reports/compare", desks="local,bpo", mode="raw").json
    assert whole["desks"]["local"]["answered"] > 10 and whole["desks"]["bpo"]["answered"] > 10
    assert (
        sum(row["desks"]["local"]["offered"] for row in whole["breakdowns"]["hour"])
        == (whole["desks"]["local"]["offered"])
    )
    assert (
        sum(row["desks"]["bpo"]["answered"] for row in whole["breakdowns"]["day"])
        == (whole["desks"]["bpo"]["answered"])
    )
    assert (
        sum(row["desks"]["bpo"]["offered"] for row in whole["breakdowns"]["path"])
        == (whole["desks"]["bpo"]["offered"])
    )


# ---- the comparison modes on the three surfaces ----


def _simpson_log(session: Any) -> None:
    """Hand-made: the BPO takes mostly tech, local mostly billing (see test_modes.simpson), on 2026-11-23."""
    from .test_modes import simpson

    simpson(session)
    session.commit()


@pytest.mark.parametrize("mode", ["randomised", "adjusted", "raw"])
def test_each_mode_is_the_same_on_the_api_and_the_command_line(app, env, session, api, runner, mode):
    _simpson_log(session)
    options = {"mode": mode, "timezone": "Asia/Manila", "detect": "aht:15"}
    from_api = api("/api/reports/compare", **QUERY, **options)
    assert from_api.status_code == 200, from_api.json
    flags = ["--mode", mode, "--timezone", "Asia/Manila", "--detect", "aht:15"]
    from_cli = runner.invoke(main, [*CLI_ARGS, *flags, "--format", "json"])
    assert from_cli.exit_code == 0, from_cli.output
    assert json.loads(from_cli.output) == from_api.json
    document = from_api.json
    assert (document["mode"], document["timezone"], document["segment"]) == (mode, "Asia/Manila", None)
    assert {row["mode"] for row in document["comparison"]} == {mode}
    aht = next(row for row in document["comparison"] if row["metric"] == "aht")
    assert aht["significant"] is False and aht["power"]["size_from"] == "requested"
    assert set(document) >= {"mode_reason", "modes", "case_mix", "segments", "equal_service", "breakdowns"}
    table = runner.invoke(main, [*CLI_ARGS, *flags])
    assert table.exit_code == 0, table.output
    assert f"Mode: {mode} (" in table.output and "every verdict below comes from it" in table.output
    assert ("WARNING: The two desks take different work" in table.output) == (mode == "raw")
    said = document["equal_service"]["verdict"]
    assert said.startswith("at equal service (") and f"\n{said[:1].upper() + said[1:]}\n" in table.output
    assert table.output.lower().count("at equal service (") == 1  # not "Equal service: at equal service"
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(main, [*CLI_ARGS, *flags, "--format", "csv"]).output))
    )
    assert {row["mode"] for row in rows if not row["segment"]} == {mode}  # then the segment rows


def test_the_segment_filter_on_the_api_and_the_command_line(app, env, session, api, runner):
    _simpson_log(session)
    from_api = api("/api/reports/compare", **QUERY, segment="tech").json
    assert from_api["segment"] == "tech" and from_api["desks"]["bpo"]["offered"] == 80
    cli = runner.invoke(main, [*CLI_ARGS, "--segment", "tech", "--format", "json"])
    assert json.loads(cli.output) == from_api


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"mode": "fairest"},
            "mode: 'fairest' is not a comparison mode (choose one of: randomised, adjusted, raw)",
        ),
        (
            {"segment": "sales"},
            "segment: 'sales' is not a segment either desk served in the period (choose one "
            "of: billing, tech)",
        ),  # fmt: skip
        ({"mode": "randomised", "segment": "tech"}, "mode: randomised is not available"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"detect": "speed:3"}, "detect: 'speed' is not a rate or a mean (choose one of: abandonment_rate, "),
        ({"target": "eighty"}, "target: 'eighty' is not a number"),
        ({"within": "-5"}, "within: -5.0 must be from 0 to 86400"),
        (
            {"path": "billing"},
            "'path': not a parameter of the comparison (it takes: desks, since, until, short_abandon, "
            "service_level, repeat_days, mode, segment, timezone, detect, target, within); the calls of one "
            "menu path or label: segment=",
        ),
        ({"mdoe": "raw"}, "'mdoe': not a parameter of the comparison"),
    ],
)
def test_bad_mode_parameters_are_400_with_the_valid_choices(session, api, params, message):
    _simpson_log(session)
    response = api("/api/reports/compare", **QUERY, **params)
    assert response.status_code == 400
    assert message in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--mode", "fairest"], "'fairest' is not one of 'randomised', 'adjusted', 'raw'"),
        (
            ["--segment", "sales"],
            "segment: 'sales' is not a segment either desk served in the period (choose",
        ),
        (["--timezone", "Mars/Olympus"], "timezone: 'Mars/Olympus' is not an IANA time zone"),
        (["--detect", "aht=15"], "detect: 'aht=15' is not metric:size"),
    ],
)
def test_bad_mode_options_are_usage_errors(env, session, runner, flags, message):
    _simpson_log(session)
    result = runner.invoke(main, [*CLI_ARGS, *flags])
    assert result.exit_code == 2 and message in result.output, result.output
