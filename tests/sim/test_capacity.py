"""What a profile's staffing is sized for (Erlang C per desk and staffed hour), and the sample's segments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ivr.cli.main import main
from ivr.cli.simulate import traffic
from ivr.engine.loader import load_folder
from ivr.engine.site import Site
from ivr.sim.capacity import FAR_MORE, TARGET, Plan, sized_for, sizing_lines
from ivr.sim.profile import load_profile

from ..conftest import ROOT
from .test_traffic import ONLY_9AM, SAMPLE_PROFILE

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def _site(folder: Path = ROOT / "flows") -> Site:
    bundle, problems = load_folder(folder)
    assert bundle is not None, problems
    return Site.from_json(bundle.site, bundle.flows)


def _profile_file(tmp_path: Path, change: Any) -> Path:
    data = json.loads(SAMPLE_PROFILE.read_text())
    change(data)
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    return path


def test_every_route_of_the_sample_flow_labels_its_segment():
    bundle, problems = load_folder(ROOT / "flows")
    assert problems == [] and bundle is not None  # the labels pass the flow schema
    routes = {name: node for name, node in bundle.flows["main"]["nodes"].items() if node["type"] == "route"}
    assert routes and all(node.get("segment") for node in routes.values())
    splits = {node["segment"] for node in routes.values() if len(node.get("weights", {})) > 1}
    directed = {node["segment"] for node in routes.values() if "desk" in node}
    assert splits and directed and not splits & directed  # a segment is either shared by a split or not


def test_a_spanish_caller_goes_to_the_bpo_with_the_scripts_handle_time(tmp_path):
    def only_spanish_billing(data: dict[str, Any]) -> None:
        data["callers"]["scripts"] = [{"weight": 1, "inputs": ["2", "1"], "handle_factor": 1.5}]

    profile = load_profile(_profile_file(tmp_path, only_spanish_billing))
    plan = Plan.of(profile, _site(), MONDAY, 5)
    assert set(plan.loads) == {"bpo-desk"}  # the flow sends every Spanish caller to the BPO
    load = plan.loads["bpo-desk"]
    assert load.share == pytest.approx(1.0)
    assert load.aht == pytest.approx(1.5 * profile.desks["bpo-desk"].handle_seconds)


def test_the_billing_split_sends_callers_to_both_desks(tmp_path):
    def only_billing(data: dict[str, Any]) -> None:
        data["callers"]["scripts"] = [{"weight": 1, "inputs": ["1", "1"]}]

    plan = Plan.of(load_profile(_profile_file(tmp_path, only_billing)), _site(), MONDAY, 5)
    assert set(plan.loads) == {"local-desk", "bpo-desk"}
    assert 0.3 < plan.loads["local-desk"].share < 0.7  # the sticky split is half and half by number
    assert sum(load.share for load in plan.loads.values()) == pytest.approx(1.0)


def test_the_sized_for_volume_meets_the_target_and_a_little_more_does_not():
    plan = Plan.of(load_profile(SAMPLE_PROFILE), _site(), MONDAY, 5)
    sizing = sized_for(plan)
    assert sizing is not None and sizing.calls_per_day > 0
    assert all(level >= TARGET for level in plan.service_levels(sizing.calls_per_day).values())
    beyond = plan.service_levels(sizing.calls_per_day * 1.05)
    assert beyond[sizing.queue] < TARGET  # the desk named is the one that falls short


def test_more_agents_are_sized_for_more_calls(tmp_path):
    def doubled(data: dict[str, Any]) -> None:
        for desk in data["desks"].values():
            desk["agents"] = {kind: [2 * n for n in hours] for kind, hours in desk["agents"].items()}

    site = _site()
    before = sized_for(Plan.of(load_profile(SAMPLE_PROFILE), site, MONDAY, 5))
    after = sized_for(Plan.of(load_profile(_profile_file(tmp_path, doubled)), site, MONDAY, 5))
    assert before is not None and after is not None
    assert after.calls_per_day > 2 * before.calls_per_day  # pooling: twice the agents carry more than twice


def test_a_profile_with_nobody_on_shift_is_sized_for_nothing(tmp_path):
    def nobody(data: dict[str, Any]) -> None:
        for desk in data["desks"].values():
            desk["agents"] = {"weekday": [0] * 24, "weekend": [0] * 24}

    plan = Plan.of(load_profile(_profile_file(tmp_path, nobody)), _site(), MONDAY, 5)
    assert sized_for(plan) is None
    line, warning = sizing_lines(None, 100, 1, "p.json")
    assert "no call will be answered" in line and warning is None


def test_the_warning_names_the_volume_and_a_way_out():
    plan = Plan.of(load_profile(SAMPLE_PROFILE), _site(), MONDAY, 1)
    sizing = sized_for(plan)
    assert sizing is not None
    calls = int(sizing.calls_per_day * FAR_MORE) + 10
    line, warning = sizing_lines(sizing, calls, 1, "acme.json")
    assert f"about {sizing.calls_per_day:,.0f} calls a day" in line
    assert warning is not None and warning.startswith("warning:") and "--days" in warning
    assert sizing_lines(sizing, int(sizing.calls_per_day), 1, "acme.json")[1] is None


def test_traffic_warns_on_stderr_when_asked_for_far_more_calls_than_the_staffing(env, tmp_path):
    def one_agent_at_nine(data: dict[str, Any]) -> None:
        data["arrivals"] = {"weekday": ONLY_9AM, "weekend": ONLY_9AM}
        for desk in data["desks"].values():
            desk["agents"] = {"weekday": ONLY_9AM, "weekend": ONLY_9AM}

    path = _profile_file(tmp_path, one_agent_at_nine)
    args = ["traffic", "--profile", str(path), "--calls", "30", "--seed", "1", "--start", "2026-11-23"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "30 calls a day" in warnings[0]
    assert json.loads(result.stdout)["calls"] == 30  # a warning, not an error: the run goes on


def test_the_commands_default_volume_draws_no_warning_for_the_sample():
    defaults = {param.name: param.default for param in traffic.params}
    plan = Plan.of(load_profile(SAMPLE_PROFILE), _site(), MONDAY, defaults["days"])
    line, warning = sizing_lines(sized_for(plan), defaults["calls"], defaults["days"], "acme.json")
    assert "is staffed for about" in line and warning is None


def test_callers_are_routed_at_the_busiest_hour_the_lines_are_open(tmp_path):
    def busiest_after_hours(data: dict[str, Any]) -> None:
        evening = [0] * 24
        evening[10], evening[20] = 1, 10  # 20:00 is after the support schedule's hours: voicemail
        data["arrivals"] = {"weekday": evening, "weekend": evening}

    plan = Plan.of(load_profile(_profile_file(tmp_path, busiest_after_hours)), _site(), MONDAY, 5)
    assert set(plan.loads) == {"local-desk", "bpo-desk"}
    assert sized_for(plan) is not None


def test_the_sample_gives_the_bpo_the_longer_work_and_the_faster_agents():
    """The worked example's design (README): raw AHT favours the local desk, the shared work the BPO."""
    profile = load_profile(SAMPLE_PROFILE)
    loads = Plan.of(profile, _site(), MONDAY, 5).loads
    assert loads["bpo-desk"].aht > 1.1 * loads["local-desk"].aht  # its mix of work is longer
    desks = profile.desks
    assert desks["bpo-desk"].handle_seconds < 0.85 * desks["local-desk"].handle_seconds  # same work: faster
