"""The carrier simulator against the real app: every path of the sample main flow, and `ivr simulate`.

Each call runs in-process on the virtual clock (the app is told the simulated time through IVR_CLOCK), so a
ten-minute queue takes no real time. Every path is checked twice: in what the caller heard (the transcript)
and in what the call log stored (read back from the database).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from ivr.cli.main import main
from ivr.sim import Agents, Caller, CallResult, Input, SimulatedCall, VirtualClock, WsgiTransport

from ..conftest import AUTH_TOKEN, CLOSED, HOLIDAY, OPEN
from ..helpers import call_row, event_kinds, events

BASE = "https://ivr.test"  # the app's SERVER_NAME in tests, so the TwiML's URLs point back at it
MAIN_LINE = "+15125550100"
CALLER = "+15125550199"
RECORDINGS = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/RE"
GREETING = "Thank you for calling Acme Home Supplies. Calls may be recorded for quality."
Place = Callable[..., CallResult]


def press(*keys: str) -> list[Input]:
    """A script of key presses; an empty string is silence at that prompt."""
    return [Input(digits=k) for k in keys]


def said(result: CallResult) -> list[str]:
    """Everything the IVR said, in order."""
    return [
        e.what.removeprefix("says: ") for e in result.events if e.who == "ivr" and e.what.startswith("says:")
    ]


def lines(result: CallResult) -> list[str]:
    """The transcript as 'who: what' lines."""
    return [f"{e.who}: {e.what}" for e in result.events]


@pytest.fixture
def place(app: Flask) -> Place:
    """Place a simulated call to the sample main line at a virtual time; the app sees that time too."""

    def place(
        inputs: list[Input] | None = None,
        at: datetime = OPEN,
        caller: Caller | None = None,
        agents: Agents | None = None,
    ) -> CallResult:
        clock = VirtualClock(at)
        app.config["IVR_CLOCK"] = clock.now
        who = caller or Caller.scripted(inputs or [])
        call = SimulatedCall(WsgiTransport(app, AUTH_TOKEN), BASE, CALLER, MAIN_LINE, clock, who, agents)
        result = call.run()
        assert result.ok, (result.error, result.status_problems, lines(result))
        return result

    return place


def check_log(
    session: Any,
    result: CallResult,
    desk: str | None,
    queue_result: str | None,
    queue_time: int | range | None,
    survey_score: int | None,
    recorded: bool = False,
) -> Any:
    """The call row as expected, ended 'completed' with the CallDuration of the completed callback."""
    row = call_row(session, result.call_sid)
    assert (row.desk, row.queue_result, row.survey_score) == (desk, queue_result, survey_score)
    if isinstance(queue_time, range):
        assert row.queue_time in queue_time
    else:
        assert row.queue_time == queue_time
    if recorded:
        assert row.recording_url.startswith(RECORDINGS)
    else:
        assert (row.recording_url, row.recording_duration) == (None, None)
    assert (row.status, row.duration) == ("completed", result.duration)
    assert row.errors == 0
    status = [
        (e.data["status"], e.data["sequence"], e.data["duration"])
        for e in events(session, row.call_sid, "status")
    ]
    assert status == [
        ("initiated", 0, None),
        ("ringing", 1, None),
        ("in-progress", 2, None),
        ("completed", 3, result.duration),
    ]
    return row


# -- the paths of the sample main flow --------------------------------------------------------------


def test_english_support_is_bridged_at_the_local_desk_and_rated(place, session):
    result = place(
        [Input(digits="1"), Input(speech="technical support"), Input(digits="4")],
        agents=Agents(answer_after=30),
    )
    heard = said(result)
    assert heard[0] == GREETING
    assert "For English, press 1." in heard and "Para español, oprima dos." in heard
    assert heard.index("For English, press 1.") < heard.index(
        "For billing, press 1. For technical support, press 2. To check an order, press 3. "
        "To speak to an operator, press 0."
    )
    assert "You are caller number 1 in line." in heard
    assert "All of our agents are busy. Please stay on the line." in heard
    assert heard[-1] == "Thank you for your feedback. Goodbye."
    transcript = lines(result)
    assert "twilio: puts the caller in queue local-desk" in transcript
    assert "agent: agent-1 answers after 30 s in the queue" in transcript
    assert "caller: presses 4" in transcript
    assert transcript.index("agent: hangs up after 180 s") < transcript.index("caller: presses 4")
    assert transcript[-2:] == ["ivr: hangs up", "twilio: call completed"]

    row = check_log(session, result, desk="local", queue_result="bridged", queue_time=30, survey_score=4)
    assert row.variables["lang"] == "en"
    assert result.duration > 30 + 180  # the queue, the agent's talk, and the prompts around them
    choices = [e.data for e in events(session, result.call_sid, "menu_choice")]
    assert choices == [{"option": "1", "by": "dtmf"}, {"option": "2", "by": "speech"}]
    waits = [e.data["queue_time"] for e in events(session, result.call_sid, "queue_wait")]
    assert waits == [0]  # one wait document (30 s of prompts and music) before the agent answered


def test_spanish_billing_goes_to_the_bpo_in_spanish(place, session):
    result = place(press("2", "1", "5"))
    spanish = [e for e in result.events if e.data.get("language") == "es-US"]
    assert [e.what for e in spanish] == [
        "says: Para español, oprima dos.",
        "says: Para facturación, oprima 1. Para soporte técnico, oprima 2. Para consultar un pedido, "
        "oprima 3. Para hablar con una operadora, oprima 0.",
        "says: Usted es la persona número 1 en la fila.",
        "says: Todos nuestros agentes están ocupados. Por favor, permanezca en la línea.",
        "says: Antes de colgar: ¿qué tan satisfecho quedó con su llamada? Oprima 1 para muy insatisfecho, "
        "hasta 5 para muy satisfecho.",
        "says: Gracias por su opinión. Adiós.",
    ]
    assert not any("For billing" in text for text in said(result))
    assert "twilio: puts the caller in queue bpo-desk" in lines(result)
    row = check_log(session, result, desk="bpo", queue_result="bridged", queue_time=30, survey_score=5)
    assert row.variables["lang"] == "es"


def test_billing_by_speech_goes_to_the_bpo(place, session):
    result = place([Input(digits="1"), Input(speech="I have a question about my bill"), Input(digits="3")])
    assert "caller: says: I have a question about my bill" in lines(result)
    assert "twilio: puts the caller in queue bpo-desk" in lines(result)
    check_log(session, result, desk="bpo", queue_result="bridged", queue_time=30, survey_score=3)
    heard = [e.data for e in events(session, result.call_sid, "input") if "speech" in e.data]
    assert heard == [{"speech": "I have a question about my bill", "confidence": "0.90"}]


@pytest.mark.parametrize(
    ("account", "read_back", "queue", "desk"),
    [
        ("12345678", "1 2 3 4 5 6 7 8", "bpo-desk", "bpo"),
        ("900123", "9 0 0 1 2 3", "local-desk", "local"),  # business accounts start with 9
    ],
)
def test_order_status_routes_by_account(place, session, account, read_back, queue, desk):
    result = place(press("1", "3", account, "2"))
    heard = said(result)
    assert "Please enter your account number, followed by the pound key." in heard
    assert f"Thank you. Account {read_back}. Connecting you to our orders team." in heard
    assert not any("not valid" in text for text in heard)
    assert f"twilio: puts the caller in queue {queue}" in lines(result)
    row = check_log(session, result, desk=desk, queue_result="bridged", queue_time=30, survey_score=2)
    assert row.variables["account"] == account


def test_three_invalid_accounts_go_to_the_operator(place, session):
    result = place(press("1", "3", "12", "34", "56", "5"))
    heard = said(result)
    invalid = "That account number was not valid. Account numbers have six to ten digits."
    assert heard.count(invalid) == 2  # two retries, then the operator
    assert not any(text.startswith("Thank you. Account") for text in heard)
    assert "twilio: puts the caller in queue local-desk" in lines(result)
    row = check_log(session, result, desk="local", queue_result="bridged", queue_time=30, survey_score=5)
    assert "account" not in row.variables
    assert [e.data["attempts"] for e in events(session, result.call_sid, "invalid_input")] == [3]
    assert [e.node for e in events(session, result.call_sid, "route")] == ["to_operator"]


def test_silence_at_the_main_menu_goes_to_the_operator(place, session):
    result = place(press("1", "", "", "", "4"))
    heard = said(result)
    assert heard.count("Sorry, I didn't catch that.") == 2
    assert lines(result).count("caller: stays silent") == 3
    assert "twilio: puts the caller in queue local-desk" in lines(result)
    check_log(session, result, desk="local", queue_result="bridged", queue_time=30, survey_score=4)
    assert [e.node for e in events(session, result.call_sid, "no_input")] == ["main_menu"]
    assert [e.node for e in events(session, result.call_sid, "route")] == ["to_operator"]


@pytest.mark.parametrize(
    ("at", "outcome", "node", "words"),
    [
        (CLOSED, "closed", "after_hours", "Our support team is available Monday to Friday from 8 AM to 6 PM"),
        (HOLIDAY, "holiday", "holiday_closed", "Our offices are closed today for the holiday."),
    ],
)
def test_closed_line_takes_a_voicemail(place, session, at, outcome, node, words):
    result = place(at=at, caller=Caller(message_seconds=25))
    heard = said(result)
    assert heard[0] == GREETING
    assert any(text.startswith(words) for text in heard)
    assert not any("press 1" in text for text in heard)
    transcript = lines(result)
    assert "caller: leaves a 25 s message" in transcript
    assert not any(line.startswith("twilio: puts the caller in queue") for line in transcript)
    row = check_log(session, result, None, None, None, None, recorded=True)
    assert row.recording_duration == 25
    recording = events(session, result.call_sid, "recording")
    assert [(e.node, e.data["url"], e.data["duration"]) for e in recording] == [(node, row.recording_url, 25)]
    assert events(session, result.call_sid, "hours")[0].data["result"] == outcome


def test_caller_who_runs_out_of_patience_hangs_up_in_the_queue(place, session):
    result = place(caller=Caller.scripted(press("1", "2", "5"), patience=45), agents=Agents(answer_after=120))
    transcript = lines(result)
    assert "caller: gives up and hangs up after 45 s in the queue" in transcript
    assert transcript[-1] == "twilio: call completed"
    assert not any(line.startswith("agent:") for line in transcript)
    assert not any("how satisfied" in text for text in said(result))
    assert "caller: presses 5" not in transcript
    check_log(session, result, desk="local", queue_result="hangup", queue_time=45, survey_score=None)
    kinds = event_kinds(session, result.call_sid)
    assert "queue_left" in kinds and "survey" not in kinds
    entered = transcript.index("twilio: puts the caller in queue local-desk")
    assert result.duration == round(result.events[entered].at) + 45


def test_nobody_answers_so_the_caller_overflows_then_leaves_for_voicemail_after_max_wait(place, session):
    result = place(
        caller=Caller.scripted(press("1", "2"), patience=3600, message_seconds=15),
        agents=Agents(answer_after=None),
    )
    transcript = lines(result)
    assert not any(line.startswith("agent:") for line in transcript)
    left = [line for line in transcript if line.startswith("twilio: caller leaves the queue after")]
    assert len(left) == 2
    queues = [line for line in transcript if line.startswith("twilio: puts the caller in queue")]
    assert queues == [
        "twilio: puts the caller in queue local-desk",
        "twilio: puts the caller in queue bpo-desk",
    ]
    assert "We are sorry for the wait." in " ".join(said(result))
    assert transcript.index(left[1]) < transcript.index("caller: leaves a 15 s message")
    # The local desk overflows to the BPO after 240 s (site.json); there the node's max_wait of 600 s applies:
    # the caller leaves at the first wait document that sees QueueTime >= the limit.
    row = check_log(session, result, "bpo", "leave", range(600, 660), None, recorded=True)
    assert row.overflow_from == "local"
    assert row.recording_duration == 15
    waits = [e.data["queue_time"] for e in events(session, result.call_sid, "queue_wait")]
    assert len(waits) > 10 and waits[-1] >= 600 > waits[-2]
    timeouts = [
        (e.data["max_wait"], e.data["rule"]) for e in events(session, result.call_sid, "queue_timeout")
    ]
    assert timeouts == [(240, "overflow"), (600, "timeout")]
    assert [e.node for e in events(session, result.call_sid, "recording")] == ["long_wait_voicemail"]


def test_silence_at_the_survey_leaves_no_score(place, session):
    result = place(press("1", "2"))
    heard = said(result)
    assert heard.count("Please press a number from 1 to 5.") == 1  # asked again once
    assert "Thank you for your feedback. Goodbye." not in heard
    survey = (
        "ivr: says: Before you go: how satisfied were you with your call today? "
        "Press 1 for very unsatisfied, up to 5 for very satisfied."
    )
    assert lines(result)[-7:] == [
        survey,
        "caller: stays silent",
        "ivr: says: Please press a number from 1 to 5.",
        survey,
        "caller: stays silent",
        "ivr: hangs up",
        "twilio: call completed",
    ]
    check_log(session, result, desk="local", queue_result="bridged", queue_time=30, survey_score=None)
    surveys = [e.data for e in events(session, result.call_sid, "survey")]
    assert surveys == [{"score": None, "reason": "timeout"}]


# -- ivr simulate ------------------------------------------------------------------------------------


@pytest.fixture
def cli(env: dict[str, str]) -> Callable[..., Any]:
    """Run `ivr simulate` on the test database (the `app` fixture emptied it) and the sample flows."""

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["simulate", *args])

    return run


SUPPORT_CALL = ("--press", "1", "--say", "technical support", "--press", "4", "--at", "2026-11-24T16:00:00Z")


@pytest.mark.parametrize("token", [AUTH_TOKEN, None])
def test_cli_simulates_a_support_call(cli, monkeypatch, token):
    if token is None:  # then the in-process app signs and checks with the instance folder's local token
        monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    result = cli(*SUPPORT_CALL)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert GREETING in out
    assert "agent-1 answers" in out
    log_lines = [line for line in out.splitlines() if line.startswith("call log:")]
    assert len(log_lines) == 1
    assert "desk=local" in log_lines[0] and "survey_score=4" in log_lines[0]
    assert "queue_result=bridged" in log_lines[0] and "errors=0" in log_lines[0]
    assert "outcome: ok" in out


def test_cli_json(cli, session):
    result = cli(*SUPPORT_CALL, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["error"] is None
    assert data["call_log"]["desk"] == "local"
    assert data["call_log"]["survey_score"] == 4
    assert data["events"][-1]["what"] == "call completed"
    assert call_row(session, data["call_sid"]).survey_score == 4


@pytest.mark.parametrize(
    ("script", "heard", "desk", "lang"),
    [
        # Spanish at the language menu, then billing at the main menu
        (("--say", "español", "--press", "1"), ["says: español", "presses 1"], "bpo", "es"),
        # English, then a word the main menu does not know: retries, silence, the operator
        (("--press", "1", "--say", "español"), ["presses 1", "says: español"], "local", "en"),
    ],
)
def test_cli_keeps_the_order_of_press_and_say(cli, session, script, heard, desk, lang):
    result = cli(*script, "--at", "2026-11-24T16:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["call_log"]["desk"] == desk
    assert call_row(session, data["call_sid"]).variables["lang"] == lang
    assert [e["what"] for e in data["events"] if e["who"] == "caller"][:2] == heard


def test_cli_exits_1_when_a_step_fails_inside_the_app(cli, monkeypatch, session):
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr("ivr.voice.flow.step", broken)
    result = cli(*SUPPORT_CALL, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["call_log"]["errors"] >= 1
    row = call_row(session, data["call_sid"])
    assert row.errors >= 1
    assert "engine exploded" in events(session, data["call_sid"], "error")[0].data["error"]


def test_cli_names_an_unknown_flow(cli):
    result = cli("--flow", "nosuch", "--press", "1")
    assert result.exit_code != 0
    assert "no flow named 'nosuch'" in result.output
    assert "Traceback" not in result.output


def test_cli_works_when_the_server_is_configured_behind_a_proxy(cli, monkeypatch, session):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ivr.example.com")
    monkeypatch.setenv("PROXY_FIX_HOPS", "1")
    result = cli("--press=1", "--press=2", "--press=5", "--at", "2026-11-24T16:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    row = call_row(session, data["call_sid"])
    assert (row.desk, row.survey_score) == ("local", 5)
    assert row.started_at.isoformat() == "2026-11-24T16:00:00+00:00"  # the virtual clock, not the wall clock
    expected_end = datetime(2026, 11, 24, 16, tzinfo=UTC) + timedelta(seconds=row.duration)
    assert abs((row.ended_at - expected_end).total_seconds()) <= 1  # Timestamp has whole seconds


def test_cli_without_a_script_asks_at_each_prompt(cli, session):
    result = CliRunner().invoke(
        main, ["simulate", "--at", "2026-11-24T16:00:00Z", "--json"], input="1\n:technical support\n3\n"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert [e["what"] for e in data["events"] if e["who"] == "caller"] == [
        "presses 1",
        "says: technical support",
        "presses 3",
    ]
    assert call_row(session, data["call_sid"]).survey_score == 3


def test_cli_shows_each_prompt_before_it_asks(cli):
    result = CliRunner().invoke(main, ["simulate", "--at", "2026-11-24T16:00:00Z"], input="1\n2\n\n5\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    asks = [index for index in range(len(out)) if out.startswith("your answer", index)]
    assert len(asks) == 4  # language, main menu, the survey, and the survey again after silence
    assert out.index("For English, press 1.") < asks[0] < out.index("caller  presses 1")
    assert asks[0] < out.index("For billing, press 1.") < asks[1] < out.index("caller  presses 2")
    assert out.index("how satisfied were you") < asks[2] < out.index("caller  stays silent") < asks[3]
    assert out.count("For English, press 1.") == 1  # each line once: shown as it happens, not again after
    assert out.rstrip().splitlines()[-2].startswith("outcome: ok")


def test_cli_at_the_end_of_the_input_the_caller_stays_silent(cli, session):
    result = CliRunner().invoke(main, ["simulate", "--at", "2026-11-24T16:00:00Z"], input="1\n")
    assert result.exit_code == 0, result.output
    assert "no more answers: the caller stays silent from here on" in result.stderr
    assert result.stdout.count("your answer") == 2  # asked once more, then never again
    assert "caller  stays silent" in result.stdout
    assert "outcome: ok" in result.stdout  # the flow ended the call: it is complete in the log
