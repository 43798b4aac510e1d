"""Traffic from profiles: shared queues answered by agents on shift through the agent line, survey answers
and repeats per desk."""

from __future__ import annotations

import copy
import gc
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, request
from sqlalchemy import func, select

from ivr.cli.main import main
from ivr.models import Agent, Call, CallEvent
from ivr.sim import VirtualClock, WsgiTransport
from ivr.sim.profile import ProfileError, load_profile
from ivr.sim.runner import staffed
from ivr.sim.traffic import run_traffic

from ..conftest import AUTH_TOKEN, ROOT
from ..helpers import call_row, event_kinds

SAMPLE_PROFILE = ROOT / "profiles" / "acme.json"
MONDAY_8AM_CHICAGO = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ONLY_9AM = [0] * 9 + [1] + [0] * 14  # every call between 9 and 10 local time


def _profile(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(SAMPLE_PROFILE.read_text())
    data = copy.deepcopy(data) | changes
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    return path


def _run(app, profile_path: Path, calls: int, seed: int = 7):
    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    app.config["IVR_CLOCK"] = clock.now
    profile = load_profile(profile_path)
    with staffed(app, profile) as staff:
        transport = WsgiTransport(app, AUTH_TOKEN)
        return run_traffic(transport, "https://ivr.test", profile, calls, clock, 1, seed, staff=staff)


def test_the_sample_profile_is_valid():
    profile = load_profile(SAMPLE_PROFILE)
    assert set(profile.desks) == {"local-desk", "bpo-desk"}
    assert profile.desks["bpo-desk"].repeat_rate > profile.desks["local-desk"].repeat_rate


def test_a_single_agent_answers_callers_in_order_so_waits_grow(app, session, tmp_path, flows_dir):
    site = json.loads((flows_dir / "site.json").read_text())
    del site["desks"]["local"]["overflow"]  # callers stay in the local queue until the flow's max_wait
    (flows_dir / "site.json").write_text(json.dumps(site))
    one_agent = [0] * 9 + [1] * 15
    desks = json.loads(SAMPLE_PROFILE.read_text())["desks"]
    for desk in desks.values():
        desk["agents"] = {"weekday": one_agent, "weekend": one_agent}
        desk["handle_seconds"] = 900
    callers = {"patience_seconds": 10**6, "scripts": [{"weight": 1, "inputs": ["1", "2", "5"]}]}
    path = _profile(
        tmp_path, arrivals={"weekday": ONLY_9AM, "weekend": ONLY_9AM}, callers=callers, desks=desks
    )
    result = _run(app, path, calls=6)
    summary = result.summary()
    assert summary["errors"] == 0 and summary["calls"] == 6
    waits = [waited for call, _r in result.calls for queue, outcome, waited in call.queue_outcomes]
    assert len(waits) == 6 and sum(1 for w in waits if w > 0) >= 2  # callers wait while the one agent talks
    local = summary["queues"]["local-desk"]
    assert (
        local["bridged"] >= 1 and local["bridged"] + local["leave"] == 6
    )  # the flow's max_wait sends the rest on
    outcomes = [(outcome, waited) for call, _r in result.calls for _q, outcome, waited in call.queue_outcomes]
    assert all(waited >= 600 for outcome, waited in outcomes if outcome == "leave")

    positions = session.scalars(select(CallEvent.data).where(CallEvent.kind == "queue_wait")).all()
    assert max(p["position"] for p in positions) > 1  # QueuePosition comes from the shared queue
    session.expire_all()
    assert session.scalar(select(func.count()).where(Call.role == "caller")) == 6


def test_impatient_callers_abandon_when_nobody_is_on_shift(app, session, tmp_path):
    desks = json.loads(SAMPLE_PROFILE.read_text())["desks"]
    for desk in desks.values():
        desk["agents"] = {"weekday": [0] * 24, "weekend": [0] * 24}
    callers = {"patience_seconds": 60, "scripts": [{"weight": 1, "inputs": ["1", "1"]}]}
    path = _profile(
        tmp_path, arrivals={"weekday": ONLY_9AM, "weekend": ONLY_9AM}, callers=callers, desks=desks
    )
    summary = _run(app, path, calls=5).summary()
    assert summary["errors"] == 0
    queues = summary["queues"].values()  # billing callers are split between the desks by their number
    assert sum(queue["hangup"] + queue["leave"] for queue in queues) == 5
    session.expire_all()
    results = Counter(session.scalars(select(Call.queue_result)).all())
    assert results["hangup"] + results["leave"] == 5


def test_survey_answers_and_repeats_follow_each_desk(app, session, tmp_path):
    data = json.loads(SAMPLE_PROFILE.read_text())
    data["desks"]["local-desk"]["survey"] = {"5": 1}
    data["desks"]["bpo-desk"]["survey"] = {"1": 1}
    data["desks"]["bpo-desk"]["repeat_rate"] = 1.0
    data["callers"]["population"] = 10_000
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    summary = _run(app, path, calls=60, seed=3).summary()
    assert summary["errors"] == 0
    session.expire_all()
    scores = {desk: set(session.scalars(select(Call.survey_score).where(Call.desk == desk, Call.queue_result
              == "bridged"))) for desk in ("local", "bpo")}  # fmt: skip
    assert scores["local"] <= {5} and scores["bpo"] <= {1}
    assert scores["local"] and scores["bpo"]
    numbers = Counter(session.scalars(select(Call.from_number)).all())
    assert max(numbers.values()) > 1  # BPO callers always call back within the week


def test_agents_on_shift_take_callers_through_the_agent_line(app, session):
    result = _run(app, SAMPLE_PROFILE, calls=40, seed=5)
    summary = result.summary()
    assert summary["errors"] == 0 and summary["calls"] == 40 and summary["agent_calls"] >= 2
    session.expire_all()
    legs = {leg.call_sid: leg for leg in session.scalars(select(Call).where(Call.role == "agent"))}
    assert len(legs) == summary["agent_calls"]
    agents = {row.agent_id: row for row in session.scalars(select(Agent))}
    for leg in legs.values():
        assert leg.to_number == "+15125550199" and leg.status == "completed"
        assert agents[leg.agent].desk == leg.desk  # signed in as an agent of its own desk
        assert leg.duration is not None and leg.duration < 4 * 3600  # Twilio ends calls after 4 hours
        assert "agent_signed_in" in event_kinds(session, leg.call_sid)
    bridged = select(Call).where(Call.role == "caller", Call.queue_result == "bridged")
    answered = session.scalars(bridged).all()
    assert len(answered) == sum(row["bridged"] for row in summary["queues"].values()) > 0
    talked: Counter[str] = Counter()
    for row in answered:
        leg = legs[row.peer_call_sid]  # linked to the agent's leg by the whisper
        assert (row.agent, row.desk) == (leg.agent, leg.desk) and leg.peer_call_sid is not None
        assert row.talk_time is not None  # from the agent's Dial action
        talked[leg.call_sid] += row.talk_time
    assert all(talked[sid] <= legs[sid].duration for sid in talked)  # talk happens on the agents' calls
    assert not any(row.active for row in agents.values())  # simulated agents work only during the run


def test_agents_who_cannot_sign_in_stop_and_count_as_errors(app, session, tmp_path):
    from ivr.sim.staff import EARLY_END, AgentLogin, Staff

    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    app.config["IVR_CLOCK"] = clock.now
    profile = load_profile(SAMPLE_PROFILE)
    strangers = Staff("+15125550199", {"local-desk": [AgentLogin("4444", "12345678", "+17375550999")]})
    transport = WsgiTransport(app, AUTH_TOKEN)
    result = run_traffic(transport, "https://ivr.test", profile, 3, clock, 1, seed=2, staff=strangers)
    assert len(result.agent_legs) == 1  # locked out once, the agent does not call again and again
    call, leg = result.agent_legs[0]
    assert leg.status_problems == [EARLY_END] and result.summary()["errors"] >= 1
    assert any("Too many attempts" in e.what for e in leg.events)
    typed = [e for e in leg.events if e.what.startswith("presses ")]
    assert [e.what for e in typed][:2] == [
        "presses **** (an agent's id or PIN)",
        "presses ******** (an agent's id or PIN)",
    ]
    assert not any(
        "4444" in e.what or "12345678" in e.what or e.data for e in typed
    )  # masked in the transcript
    session.expire_all()
    assert call_row(session, call.sid).node == "agent_locked_out"
    assert session.scalar(select(func.count()).where(Call.queue_result == "bridged")) == 0


def test_shift_blocks_follow_local_hours():
    from ivr.sim.floor import DeskModel
    from ivr.sim.staff import shift_blocks

    hours = [0] * 9 + [2] * 3 + [1] * 2 + [0] * 10  # two agents 9-12, one until 14, local time
    model = DeskModel("q", {"weekday": hours, "weekend": [0] * 24}, 60, {"none": 1}, 0, "Asia/Kolkata")
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 05:30 in Kolkata
    day = monday + timedelta(days=1)
    nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=5, minutes=30)
    hour = timedelta(hours=1)
    assert list(shift_blocks(model, 0, monday, day)) == [(nine, nine + 5 * hour)]
    assert list(shift_blocks(model, 1, monday, day)) == [(nine, nine + 3 * hour)]
    assert list(shift_blocks(model, 2, monday, day)) == []
    late = nine + timedelta(hours=1, minutes=10)  # a run starting mid-shift, ending before it is over
    assert list(shift_blocks(model, 0, late, late + hour)) == [(late, late + hour)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": "5125550100"}, "to: '5125550100' is not a phone number in E.164 form"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_a_broken_profile_names_its_fields(tmp_path, change, message):
    with pytest.raises(ProfileError, match=message):
        load_profile(_profile(tmp_path, **change))


RUN_ARGS = [
    "traffic",
    "--profile",
    str(SAMPLE_PROFILE),
    "--calls",
    "25",
    "--days",
    "2",
    "--seed",
    "1",
    "--json",
]
RUN_ARGS += ["--start", "2026-11-23"]


def test_traffic_command_fills_the_call_log(env, session):
    result = CliRunner().invoke(main, RUN_ARGS)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["calls"] == 25 and summary["errors"] == 0
    assert "is staffed for about" in result.stderr and "warning:" not in result.stderr
    session.expire_all()
    assert session.scalar(select(func.count()).where(Call.role == "caller")) == 25
    first = session.scalar(select(func.min(Call.started_at)))
    assert first is not None and first >= datetime(2026, 11, 23, tzinfo=UTC)  # --start sets simulated time
    again = CliRunner().invoke(main, RUN_ARGS)
    assert (
        json.loads(again.stdout[again.stdout.index("{") :]) == summary
    )  # the same seed and start: the same run


def test_traffic_command_rejects_a_bad_profile(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"to": "+15125550100"}')
    result = CliRunner().invoke(main, ["traffic", "--profile", str(bad), "--calls", "1"])
    assert result.exit_code == 1
    assert "(top): field 'timezone' is required" in result.output


def test_an_agent_dialling_the_queue_takes_the_waiting_caller():
    """<Dial><Queue>: the longest-waiting caller is bridged to the agent, after the whisper."""
    from ivr.sim import Agents, Caller, SimulatedCall
    from ivr.sim.floor import DeskModel, DeskPool, ModelQueues, Switchboard

    fake = Flask("fake")
    seen: list[tuple[str, dict[str, str]]] = []

    @fake.post("/<path:path>")
    def answer(path: str):
        seen.append((path, request.form.to_dict()))
        documents = {
            "voice/incoming": '<Enqueue waitUrl="/wait" action="/done">q</Enqueue>'
            if request.form["To"] == "+15125550100"
            else '<Dial action="/dialed"><Queue url="/whisper">q</Queue></Dial>',
            "wait": "<Pause length='10'/>",
            "whisper": "<Say>Connecting you to Ana.</Say>",
        }
        return f"<Response>{documents.get(path, '<Hangup/>')}</Response>", 200, {"Content-Type": "text/xml"}

    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    board = Switchboard(clock)
    nobody = DeskModel("q", {"weekday": [0] * 24, "weekend": [0] * 24}, 60, {"none": 1}, 0, "UTC")
    queues = ModelQueues({"q": DeskPool(nobody, board, random.Random(1))})
    transport = WsgiTransport(fake, "unused")
    calls = {
        "caller": SimulatedCall(transport, "http://fake", "+14155550101", "+15125550100", clock, Caller(),
                                queues=queues),
        "agent": SimulatedCall(transport, "http://fake", "client:ana", "+15125550999", clock, Caller(),
                               Agents(talk_seconds=120), queues=queues),
    }  # fmt: skip
    results = {}
    board.spawn(MONDAY_8AM_CHICAGO, lambda: results.setdefault("caller", calls["caller"].run()))
    board.spawn(
        MONDAY_8AM_CHICAGO + timedelta(seconds=60), lambda: results.setdefault("agent", calls["agent"].run())
    )
    board.run()
    assert results["caller"].ok and results["agent"].ok
    done = next(form for path, form in seen if path == "done")
    assert (done["QueueResult"], done["QueueTime"]) == ("bridged", "60")
    dialed = next(form for path, form in seen if path == "dialed")
    assert (dialed["DialCallStatus"], dialed["DialCallDuration"]) == ("completed", "120")
    whisper = next(form for path, form in seen if path == "whisper")
    assert whisper["CallSid"] == calls["caller"].sid and whisper["DequeingCallSid"] == calls["agent"].sid
    assert any(e.what == "whispers: Connecting you to Ana." for e in results["caller"].events)
    assert results["caller"].duration == 60 + 120


@pytest.mark.parametrize(
    ("caller_after", "status", "agent_waited"),
    [(100, "completed", 100), (400, "no-answer", 300)],
)
def test_an_agent_dialling_an_empty_queue_waits_for_the_next_caller(caller_after, status, agent_waited):
    """Twilio: with the queue empty, Dial waits until the next person joins or its timeout passes."""
    from ivr.sim import Agents, Caller, SimulatedCall
    from ivr.sim.floor import DeskModel, DeskPool, ModelQueues, Switchboard

    fake = Flask("fake")
    seen: list[tuple[str, dict[str, str]]] = []

    @fake.post("/<path:path>")
    def answer(path: str):
        seen.append((path, request.form.to_dict()))
        documents = {
            "voice/incoming": '<Enqueue waitUrl="/wait" action="/done">q</Enqueue>'
            if request.form["To"] == "+15125550100"
            else '<Dial action="/dialed" timeout="300"><Queue>q</Queue></Dial>',
            "wait": "<Pause length='10'/>",
        }
        return f"<Response>{documents.get(path, '<Hangup/>')}</Response>", 200, {"Content-Type": "text/xml"}

    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    board = Switchboard(clock)
    nobody = DeskModel("q", {"weekday": [0] * 24, "weekend": [0] * 24}, 60, {"none": 1}, 0, "UTC")
    queues = ModelQueues({"q": DeskPool(nobody, board, random.Random(1))})
    transport = WsgiTransport(fake, "unused")
    caller = SimulatedCall(transport, "http://fake", "+14155550101", "+15125550100", clock,
                           Caller(patience=50), queues=queues)  # fmt: skip
    agent = SimulatedCall(transport, "http://fake", "+17375550101", "+15125550999", clock, Caller(),
                          Agents(talk_seconds=120), queues=queues)  # fmt: skip
    board.spawn(MONDAY_8AM_CHICAGO, agent.run)
    board.spawn(MONDAY_8AM_CHICAGO + timedelta(seconds=caller_after), caller.run)
    board.run()
    dialed = next(form for path, form in seen if path == "dialed")
    assert dialed["DialCallStatus"] == status
    connected = [e for e in agent.events if e.what.startswith(("is connected", "nobody came"))]
    assert [e.at for e in connected] == [agent_waited]
    done = next(form for path, form in seen if path == "done")
    assert done["QueueResult"] == ("bridged" if status == "completed" else "hangup")
    assert done["QueueTime"] == ("0" if status == "completed" else "50")


AGENT_LINE = "+15125550999"


def _fake_queue_line(wait_document: str) -> Flask:
    """A stand-in app: callers are queued on 'q' with this wait document; the agent line dials 'q' again
    and again (without a chance to sign out, so the agent only hangs up when the shift ends)."""
    fake = Flask("fake")
    dial = '<Dial action="/dialed" hangupOnStar="true"><Queue>q</Queue></Dial>'

    @fake.post("/<path:path>")
    def answer(path: str) -> tuple[str, int, dict[str, str]]:
        agent = request.form["To"] == AGENT_LINE
        documents = {
            "voice/incoming": dial if agent else '<Enqueue waitUrl="/wait" action="/done">q</Enqueue>',
            "wait": wait_document,
            "dialed": dial,
        }
        return f"<Response>{documents.get(path, '<Hangup/>')}</Response>", 200, {"Content-Type": "text/xml"}

    return fake


def test_hold_music_stops_when_the_agent_answers():
    """A caller answered in the middle of a long wait document is connected at once."""
    from ivr.sim import Caller, SimulatedCall
    from ivr.sim.floor import DeskModel, DeskPool, ModelQueues, Switchboard
    from ivr.sim.people import ShiftAgent

    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    board = Switchboard(clock)
    always = [1] * 24
    model = DeskModel("q", {"weekday": always, "weekend": always}, 100, {"none": 1}, 0, "UTC")
    queues = ModelQueues({"q": DeskPool(model, board, random.Random(5))})
    transport = WsgiTransport(
        _fake_queue_line("<Pause length='5'/><Pause length='400'/><Pause length='400'/>"), "x"
    )
    calls = [SimulatedCall(transport, "http://fake", f"+1415555010{n}", "+15125550100", clock, Caller(),
                           queues=queues) for n in range(2)]  # fmt: skip
    for n, call in enumerate(calls):
        board.spawn(MONDAY_8AM_CHICAGO + timedelta(seconds=n), call.run)
    shift = ShiftAgent("9001", "1234", MONDAY_8AM_CHICAGO + timedelta(hours=1), clock)
    agent = SimulatedCall(transport, "http://fake", "+17375550101", AGENT_LINE, clock, shift, queues=queues)
    results = []
    board.spawn(MONDAY_8AM_CHICAGO + timedelta(seconds=2), lambda: results.append(agent.run()))
    board.run()

    def moment(call: Any, starts: str) -> datetime:
        event = next(e for e in call.events if e.what.startswith(starts))
        return call.started + timedelta(seconds=event.at)

    first_free = moment(calls[0], "hangs up after")
    second_answered = moment(calls[1], "9001 answers")
    assert abs((second_answered - first_free).total_seconds()) <= 0.2  # not at the end of a 400 s pause
    reported = calls[1].queue_outcomes[0][2]  # QueueTime, whole seconds
    assert abs(reported - (first_free - calls[1].started).total_seconds()) <= 1
    # the agent waits in its Dial for a caller, and hangs up there when the shift ends
    assert results[0].ok and results[0].duration == 3600 - 2
    assert agent.events[-2].what == "hangs up while waiting for a caller in q"


class FailsForTheFirstCaller:
    """A transport whose connection breaks for every request of the first caller (not of an agent)."""

    def __init__(self, inner: WsgiTransport) -> None:
        self.inner = inner
        self.doomed: str | None = None

    def post(self, url: str, params: dict[str, str]) -> Any:
        if params["To"] != "+15125550199":
            self.doomed = self.doomed or params["From"]
        if params["From"] == self.doomed:
            raise ConnectionError("connection reset by peer")
        return self.inner.post(url, params)


def test_a_call_that_fails_in_transport_does_not_stop_the_run(app):
    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    app.config["IVR_CLOCK"] = clock.now
    transport = FailsForTheFirstCaller(WsgiTransport(app, AUTH_TOKEN))
    profile = load_profile(SAMPLE_PROFILE)
    with staffed(app, profile) as staff:
        result = run_traffic(transport, "https://ivr.test", profile, 5, clock, 1, seed=4, staff=staff)
    summary = result.summary()
    assert summary["calls"] == 5 and summary["errors"] == 1
    failed = [r for _call, r in result.calls if not r.ok]
    assert failed[0].error is not None and "connection reset" in failed[0].error.message
    assert clock.scheduler is None


def _scripts_profile(tmp_path: Path, scripts: list[dict[str, Any]], agents: list[int]) -> Path:
    desks = json.loads(SAMPLE_PROFILE.read_text())["desks"]
    for desk in desks.values():
        desk["agents"] = {"weekday": agents, "weekend": agents}
        desk["handle_seconds"] = 100
        desk["handle_cv"] = 0.1
    return _profile(
        tmp_path,
        arrivals={"weekday": ONLY_9AM, "weekend": ONLY_9AM},
        callers={"population": 10_000, "scripts": scripts},
        desks=desks,
    )


def test_a_scripts_handle_factor_sets_how_long_its_calls_take(app, session, tmp_path):
    scripts = [
        {"weight": 1, "inputs": ["1", "2"], "handle_factor": 3},  # technical support: the local desk
        {"weight": 1, "inputs": ["1", "0"], "handle_factor": 0.5},  # operator: the local desk
    ]
    path = _scripts_profile(tmp_path, scripts, [0] * 9 + [6] * 15)
    assert _run(app, path, calls=12, seed=2).summary()["errors"] == 0
    session.expire_all()
    talk = {
        segment: session.scalars(
            select(Call.talk_time).where(Call.segment == segment, Call.queue_result == "bridged")
        ).all()
        for segment in ("support", "operator")
    }
    assert talk["support"] and talk["operator"]
    assert min(talk["support"]) > 2 * max(talk["operator"])  # 300 s against 50 s, give or take 10%


def test_a_scripts_patience_sets_how_long_its_callers_wait(app, session, tmp_path):
    scripts = [
        {"weight": 1, "inputs": ["1", "2"], "patience_seconds": 1},
        {"weight": 1, "inputs": ["1", "0"], "patience_seconds": 10**6},
    ]
    path = _scripts_profile(tmp_path, scripts, [0] * 24)  # nobody answers
    assert _run(app, path, calls=8, seed=3).summary()["errors"] == 0
    session.expire_all()
    results = {
        segment: Counter(session.scalars(select(Call.queue_result).where(Call.segment == segment)).all())
        for segment in ("support", "operator")
    }
    assert set(results["support"]) == {"hangup"}  # impatient: they hang up in the queue
    assert results["operator"] and "hangup" not in results["operator"]  # they wait for the voicemail


def test_handle_times_have_the_desks_mean_and_spread():
    """Lognormal with mean m and coefficient of variation c: sigma^2 = ln(1 + c^2), mu = ln m - sigma^2/2."""
    model = load_profile(SAMPLE_PROFILE).desks["local-desk"]
    model.handle_cv = 0.6
    rng = random.Random(5)
    draws = [model.handle_time(rng, 0.5) for _ in range(20_000)]
    mean = sum(draws) / len(draws)
    sd = (sum((x - mean) ** 2 for x in draws) / (len(draws) - 1)) ** 0.5
    assert mean == pytest.approx(0.5 * model.handle_seconds, rel=0.02)
    assert sd / mean == pytest.approx(0.6, rel=0.05)


def test_callers_call_again_only_within_a_week_of_being_answered(app, tmp_path):
    """Repeat callers come from those answered in the last 7 days: a caller answered longer ago is never
    drawn again, however long the run (the repeat memory forgets them)."""
    data = json.loads(SAMPLE_PROFILE.read_text())
    for desk in data["desks"].values():
        desk["repeat_rate"] = 0.5
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    clock = VirtualClock(MONDAY_8AM_CHICAGO)
    app.config["IVR_CLOCK"] = clock.now
    profile = load_profile(path)
    with staffed(app, profile) as staff:
        transport = WsgiTransport(app, AUTH_TOKEN)
        result = run_traffic(transport, "https://ivr.test", profile, 40, clock, 16, 5, staff=staff)
    assert result.summary()["errors"] == 0
    calls = sorted(result.calls, key=lambda done: done[0].started)
    answered: dict[str, datetime] = {}  # number -> when the simulator last saw an agent answer them
    repeats = 0
    for call, outcome in calls:
        number = call.base["From"]
        if number in answered:
            repeats += 1
            # a minute's slack: the simulator notes the answer once the call is over, after its last request
            assert call.started - answered[number] <= timedelta(days=7, minutes=1), number
        if call.caller.served_by is not None:
            answered[number] = call.started + timedelta(seconds=outcome.duration)
    assert repeats and calls[-1][0].started - calls[0][0].started > timedelta(days=14)


def test_a_run_leaves_the_garbage_collector_as_it_found_it(app, session, monkeypatch):
    """A run freezes the objects it begins with for the collector (its full passes skip them) and unfreezes
    them after; objects someone else froze (a server's preload) stay as they were."""
    during: list[int] = []
    post = WsgiTransport.post

    def noting(self, url, params):
        during.append(gc.get_freeze_count())
        return post(self, url, params)

    monkeypatch.setattr(WsgiTransport, "post", noting)
    profile = _profile(Path(app.instance_path), arrivals={"weekday": ONLY_9AM, "weekend": ONLY_9AM})
    assert gc.get_freeze_count() == 0
    _run(app, profile, calls=1)
    assert min(during) > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen, during[:] = gc.get_freeze_count(), []
        _run(app, profile, calls=1)
        assert max(during) <= frozen and 0 < gc.get_freeze_count() <= frozen  # (some frozen ones freed)
    finally:
        gc.unfreeze()
