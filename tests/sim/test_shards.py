"""Shards of a traffic run: split at quiet hours, each with its own random stream, run side by side in
processes of their own on one database, with the same calls for the same seed whatever the timing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import func, select

from ivr.calls.queues import read_stats
from ivr.cli.main import main
from ivr.models import Call
from ivr.sim import VirtualClock
from ivr.sim.profile import arrival_times, load_profile
from ivr.sim.runner import run_profile
from ivr.sim.shards import QUIET, plan
from ivr.sim.traffic import TrafficResult

from ..conftest import ROOT

SAMPLE_PROFILE = ROOT / "profiles" / "acme.json"
MONDAY_6AM_CHICAGO = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


def test_shards_split_the_calls_at_quiet_hours_with_a_stream_each():
    """Each shard after the first starts at 6:00 in Chicago, after six hours without calls or agents."""
    profile = load_profile(SAMPLE_PROFILE)
    shards = plan(profile, 300, MONDAY_6AM_CHICAGO, 4, 5, 3)
    assert len(shards) == 3
    assert shards[0].start == MONDAY_6AM_CHICAGO
    for shard in shards[1:]:
        local = shard.start.astimezone(CHICAGO)
        assert (local.hour, local.minute) == (6, 0)
    everything = arrival_times(profile, 300, MONDAY_6AM_CHICAGO, 4, random.Random(5))
    assert [when for shard in shards for when in shard.arrivals] == everything  # each call in one shard
    for before, after in zip(shards, shards[1:], strict=False):
        assert before.end == after.start
        assert max(before.arrivals) < after.start - QUIET
    assert len({shard.seed for shard in shards}) == 3
    assert min(len(shard.arrivals) for shard in shards) > 50  # about as many calls each


def test_a_centre_open_round_the_clock_is_one_shard():
    """Without quiet hours the run cannot be split: one shard with every call."""
    profile = load_profile(SAMPLE_PROFILE)
    busy = {"weekday": [1.0] * 24, "weekend": [1.0] * 24}
    always = type(profile)(**{**profile.__dict__, "arrivals": busy})
    shards = plan(always, 100, MONDAY_6AM_CHICAGO, 3, 5, 2)
    assert len(shards) == 1 and len(shards[0].arrivals) == 100


def _outcomes(result: TrafficResult) -> list[Any]:
    """What each call did, in order: number, queues, ok, duration and its transcript."""
    return [
        (call.number, call.queue_outcomes, outcome.ok, outcome.duration,
         [(event.at, event.who, event.what) for event in outcome.events])
        for call, outcome in result.calls + result.agent_legs
    ]  # fmt: skip


def _run(jobs: int, shards: int) -> TrafficResult:
    profile = load_profile(SAMPLE_PROFILE)
    clock = VirtualClock(MONDAY_6AM_CHICAGO)
    return run_profile(profile, 60, 2, clock, None, 3, lambda _n: None, jobs, shards)


def test_the_same_seed_gives_the_same_calls_in_two_processes_or_one(env, app, session):
    """Two shards in two processes, twice, and one after the other in one: the same calls each time."""
    first, again, one_process = _run(2, 2), _run(2, 2), _run(1, 2)
    assert len(first.load) == 2  # two shards, each run in a process
    summary = first.summary()
    assert summary["calls"] == 60 and summary["errors"] == 0 and summary["agent_calls"] > 0
    assert json.dumps(again.summary()) == json.dumps(summary) == json.dumps(one_process.summary())
    assert _outcomes(again) == _outcomes(first) == _outcomes(one_process)
    session.expire_all()
    callers = select(func.count()).where(Call.role == "caller")
    assert session.scalar(callers) == 3 * 60
    assert session.scalar(callers.where(Call.status != "completed")) == 0  # every call logged to its end
    assert session.scalar(select(func.count(func.distinct(Call.call_sid)))) == session.scalar(
        select(func.count()).select_from(Call)
    )
    first_day = session.scalar(select(func.min(Call.started_at)))
    assert first_day is not None and first_day >= MONDAY_6AM_CHICAGO


def test_one_job_keeps_the_single_stream(env, app, session):
    """--jobs 1 is the run as before sharding: the same as run_traffic with the seed alone."""
    profile = load_profile(SAMPLE_PROFILE)
    result = run_profile(profile, 30, 1, VirtualClock(MONDAY_6AM_CHICAGO), None, 3, lambda _n: None, 1)
    assert not result.load and result.summary()["errors"] == 0
    assert all(hasattr(call, "transport") for call, _outcome in result.calls)  # ran here, in process


def test_a_shard_does_not_count_the_callers_of_a_later_shard(session):
    """Shards run side by side: the queue figures read at a moment count no call logged for a later one."""
    now = MONDAY_6AM_CHICAGO + timedelta(hours=3)
    later = now + timedelta(days=1)  # the next shard's callers, waiting or talking while this one runs
    for n in range(3):
        session.add(
            Call(call_sid=f"CA{n:032d}", desk="bpo", role="caller", status="in-progress", status_rank=3,
                 started_at=later, queued_at=later)
        )  # fmt: skip
    session.add(
        Call(call_sid=f"CA{9:032d}", desk="bpo", role="caller", status="completed", status_rank=4,
             started_at=later, queued_at=later, queue_result="bridged", talk_time=600)
    )  # fmt: skip
    session.add(
        Call(call_sid=f"CA{8:032d}", desk="bpo", role="agent", status="in-progress", status_rank=3,
             started_at=later, node="agent_ready")
    )  # fmt: skip
    session.commit()
    stats = read_stats(session, "bpo", now)
    assert (stats.waiting, stats.agents, stats.handle_seconds) == (0, 0, None)


def test_traffic_command_runs_shards_with_jobs(env, app, session):
    """`ivr traffic --jobs 2`: two processes, every call logged, the same summary for the same seed."""
    args = ["traffic", "--profile", str(SAMPLE_PROFILE), "--calls", "40", "--days", "2", "--seed", "9",
            "--start", "2026-11-23T12:00:00Z", "--json", "--jobs", "2"]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout[first.stdout.index("{") :])
    assert summary["calls"] == 40 and summary["errors"] == 0
    again = CliRunner().invoke(main, args)
    assert json.loads(again.stdout[again.stdout.index("{") :]) == summary
    session.expire_all()
    assert session.scalar(select(func.count()).where(Call.role == "caller")) == 80


def test_jobs_are_refused_with_a_url(env, app):
    """Shards run in this process's app: against a server the run is one process."""
    args = ["traffic", "--profile", str(SAMPLE_PROFILE), "--url", "http://127.0.0.1:9", "--jobs", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--jobs" in result.output
