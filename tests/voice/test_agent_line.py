"""The agent line: sign-in with id and PIN, the whisper linking both legs, talk time, the next-caller loop,
the survey after the agent hangs up, and `ivr agent`.

Webhook steps are posted as Twilio would and their TwiML read with XPath; a whole caller and agent pair
is also driven by the simulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from ivr.accounts.agents import create_agent, find_agent, verify_agent
from ivr.cli.main import main
from ivr.models import Agent, Call

from ..conftest import OPEN
from ..helpers import call_row, caller_meets_agent, event_kinds, events
from ..twilio import CallDriver, TwilioClient, new_sid, one, parse, xpath

AGENT_LINE = "+15125550199"
MAIN_LINE = "+15125550100"
AGENT_PHONE = "+17375550101"
WRONG_PAIR = "That agent ID and PIN do not match."


def agent_call(twilio: TwilioClient) -> CallDriver:
    """A new call to the agent line from an agent's phone."""
    return CallDriver(twilio, caller=AGENT_PHONE, called=AGENT_LINE)


def said(root: etree._Element) -> str:
    """Everything a document says, in order, as one string."""
    return " ".join(text.strip() for text in xpath(root, "//Say/text()"))


def sign_in(twilio: TwilioClient, agent_id: str = "1001", pin: str = "432198") -> tuple[CallDriver, Any]:
    """Call the agent line and key in an id and PIN; the call and the last document."""
    driver = agent_call(twilio)
    asked = driver.start()
    asked_pin = driver.press(asked, agent_id)
    return driver, driver.press(asked_pin, pin)


def queued_caller(twilio: TwilioClient) -> tuple[CallDriver, Any]:
    """A caller of the main line who asks for technical support and waits in the local desk's queue."""
    caller = CallDriver(twilio)
    menu = caller.press(caller.start(), "1")
    enqueued = caller.press(menu, "2")
    assert one(enqueued, "/Response/Enqueue/text()") == "local-desk"
    return caller, enqueued


# -- sign-in ---------------------------------------------------------------------------------------


def test_an_agent_signs_in_and_is_offered_the_desk_queue(twilio, session, agents):
    driver = agent_call(twilio)
    first = driver.start()
    gather = one(first, "/Response/Gather")
    assert gather.get("action").endswith("/voice/agent/id") and gather.get("finishOnKey") == "#"
    assert "enter your agent ID" in said(first)
    pin = driver.press(first, "1001")
    assert one(pin, "/Response/Gather/@action").endswith("/voice/agent/pin")
    assert "enter your PIN" in said(pin)

    ready = driver.press(pin, "432198")
    assert "Welcome, Ana. You are signed in." in said(ready)
    assert one(ready, "/Response/Say[last()]/text()") == "Local desk (Austin, in-house), queue local-desk."
    dial = one(ready, "/Response/Dial")
    assert dial.get("action").endswith("/voice/agent/dialed") and dial.get("hangupOnStar") == "true"
    assert int(dial.get("timeout")) >= 30
    assert one(dial, "Queue/text()") == "local-desk"
    assert one(dial, "Queue/@url").endswith("/voice/agent/whisper")
    assert xpath(ready, "/Response/*[last()]")[0].tag == "Dial"

    row = call_row(session, driver.sid)
    assert (row.role, row.desk, row.agent, row.node) == ("agent", "local", "1001", "agent_ready")
    signed = events(session, driver.sid, "agent_signed_in")
    assert [e.data for e in signed] == [{"agent": "1001", "desk": "local", "queue": "local-desk"}]
    assert event_kinds(session, driver.sid)[:2] == ["agent_line_called", "agent_id_entered"]


@pytest.mark.parametrize(("agent_id", "pin"), [("1001", "9999"), ("7777", "432198"), ("", "")])
def test_a_wrong_id_or_pin_gets_the_same_answer_and_a_retry(twilio, session, agents, agent_id, pin):
    driver, again = sign_in(twilio, agent_id, pin)
    assert said(again) == f"{WRONG_PAIR} Please enter your agent ID, followed by the pound key."
    assert one(again, "/Response/Gather/@action").endswith("/voice/agent/id")
    assert not xpath(again, "//Dial | //Hangup")
    row = call_row(session, driver.sid)
    assert (row.role, row.desk, row.agent, row.tries) == ("agent", None, None, {"sign_in": 1})
    failed = events(session, driver.sid, "agent_sign_in_failed")
    assert [e.data for e in failed] == [{"attempt": 1}]
    entered = events(session, driver.sid, "agent_id_entered")
    assert [e.data for e in entered] == [{"digits": len(agent_id)}]  # how many digits, never which

    ready = driver.press(driver.press(again, "1001"), "432198")  # the second attempt may succeed
    assert one(ready, "//Dial/Queue/text()") == "local-desk"


def test_three_wrong_pairs_lock_the_call_out(twilio, session, agents):
    driver = agent_call(twilio)
    document = driver.start()
    for _attempt in range(3):
        document = driver.press(driver.press(document, "1001"), "000000")
    assert said(document) == f"{WRONG_PAIR} Too many attempts. Goodbye."
    assert xpath(document, "/Response/*[last()]")[0].tag == "Hangup" and not xpath(document, "//Gather")
    row = call_row(session, driver.sid)
    assert (row.node, row.desk, row.agent) == ("agent_locked_out", None, None)
    assert event_kinds(session, driver.sid).count("agent_sign_in_failed") == 3
    assert events(session, driver.sid, "agent_locked_out")[0].data == {"attempts": 3}
    # the locked-out call cannot go on signing in (Twilio would not ask, but a replay must not work)
    replay = parse(twilio.post("/voice/agent/pin", driver.params(Digits="432198")))
    assert xpath(replay, "//Hangup") and not xpath(replay, "//Dial")
    assert call_row(session, driver.sid).desk is None


@pytest.mark.parametrize(
    ("agent_id", "pin", "heard", "reason"),
    [
        ("1002", "111134", "This agent account is not active.", "inactive"),
        ("3001", "222256", "Your desk is not set up on this line.", "unknown_desk"),
    ],
)
def test_inactive_agents_and_agents_of_unknown_desks_are_refused(
    twilio, session, agents, agent_id, pin, heard, reason
):
    driver, refused = sign_in(twilio, agent_id, pin)
    assert said(refused).startswith(heard) and said(refused).endswith("Goodbye.")
    assert xpath(refused, "/Response/*[last()]")[0].tag == "Hangup" and not xpath(refused, "//Dial")
    row = call_row(session, driver.sid)
    assert (row.desk, row.agent, row.node) == (None, agent_id, "agent_refused")
    assert events(session, driver.sid, "agent_refused")[0].data["reason"] == reason


def test_agents_of_a_dialled_desk_are_refused(twilio, session, flows_dir, agents):
    site = json.loads((flows_dir / "site.json").read_text())
    site["desks"]["partner"] = {"label": "Partner hotline", "dial": "+15125550177"}
    (flows_dir / "site.json").write_text(json.dumps(site))
    create_agent(session, "4001", "partner", "333378")
    session.commit()
    driver, refused = sign_in(twilio, "4001", "333378")
    assert said(refused) == "Partner hotline takes its calls by phone, not from a queue. Goodbye."
    assert not xpath(refused, "//Dial")
    assert events(session, driver.sid, "agent_refused")[0].data["reason"] == "no_queue"


# -- the bridge ------------------------------------------------------------------------------------


def whisper(twilio: TwilioClient, caller: CallDriver, agent: CallDriver, queue_time: str = "42") -> Any:
    """Twilio's request to the Queue noun's url, for the dequeued caller."""
    params = caller.params(QueueSid="QU" + "1" * 32, QueueTime=queue_time, DequeingCallSid=agent.sid)
    return parse(twilio.post("/voice/agent/whisper", params))


def test_the_whisper_links_the_caller_and_the_agent(twilio, session, agents):
    caller, _enqueued = queued_caller(twilio)
    agent, _ready = sign_in(twilio)
    answer = whisper(twilio, caller, agent)
    assert len(answer) == 0  # empty TwiML: the caller is connected at once

    row = call_row(session, caller.sid)
    assert (row.role, row.desk, row.agent, row.peer_call_sid) == ("caller", "local", "1001", agent.sid)
    bridged = events(session, caller.sid, "agent_bridged")[0].data
    assert bridged == {"agent": "1001", "agent_call_sid": agent.sid, "queue_time": 42}
    leg = call_row(session, agent.sid)
    assert (leg.peer_call_sid, leg.node) == (caller.sid, "agent_talking")
    assert events(session, agent.sid, "agent_bridged")[0].data == {
        "caller_call_sid": caller.sid,
        "queue_time": 42,
    }


def test_a_caller_taken_by_another_desk_keeps_its_desk(twilio, session, agents):
    caller, _enqueued = queued_caller(twilio)
    agent, _ready = sign_in(twilio, "2001", "555512")
    whisper(twilio, caller, agent)
    row = call_row(session, caller.sid)
    assert (row.desk, row.agent) == ("local", "2001")
    assert events(session, caller.sid, "agent_bridged")[0].data["agent_desk"] == "bpo"


@pytest.mark.parametrize("by", ["DialCallSid", "whisper link"])
def test_the_talk_time_goes_on_the_caller_and_the_next_caller_is_offered(twilio, session, agents, by):
    caller, _enqueued = queued_caller(twilio)
    agent, ready = sign_in(twilio)
    whisper(twilio, caller, agent)
    dial_sid = caller.sid if by == "DialCallSid" else new_sid()
    after = agent.post(
        one(ready, "//Dial/@action"), DialCallStatus="completed", DialCallDuration="187", DialCallSid=dial_sid
    )
    assert call_row(session, caller.sid).talk_time == 187
    ended = events(session, caller.sid, "agent_call_ended")[0].data
    assert ended == {"agent": "1001", "talk_time": 187, "agent_call_sid": agent.sid}
    assert events(session, agent.sid, "agent_call_ended")[0].data["caller_call_sid"] == caller.sid

    gather = one(after, "/Response/Gather")  # between callers: a moment to sign out with *
    assert gather.get("action").endswith("/voice/agent/key") and gather.get("numDigits") == "1"
    assert gather.get("actionOnEmptyResult") is None  # silence falls through to the queue
    assert "Press star to sign out." in said(after)
    assert one(after, "/Response/Dial/Queue/text()") == "local-desk"
    assert call_row(session, agent.sid).node == "agent_ready"


def test_an_empty_queue_is_offered_again(twilio, session, agents):
    agent, ready = sign_in(twilio)
    again = agent.post(one(ready, "//Dial/@action"), DialCallStatus="no-answer", DialCallDuration="0")
    assert said(again).startswith("Nobody is waiting.")
    assert one(again, "/Response/Dial/Queue/text()") == "local-desk"
    assert events(session, agent.sid, "agent_queue_empty")[0].data == {
        "status": "no-answer",
        "queue": "local-desk",
    }


def test_star_between_callers_signs_the_agent_out(twilio, session, agents):
    agent, ready = sign_in(twilio)
    after = agent.post(one(ready, "//Dial/@action"), DialCallStatus="no-answer")
    bye = agent.press(after, "*")
    assert said(bye) == "You are signed out. Goodbye." and xpath(bye, "/Response/Hangup")
    assert call_row(session, agent.sid).node == "agent_signed_out"
    assert events(session, agent.sid, "agent_signed_out")[0].data == {"how": "star"}
    late = parse(twilio.post("/voice/agent/dialed", agent.params(DialCallStatus="no-answer")))
    assert xpath(late, "/Response/Hangup") and not xpath(late, "//Dial")  # signed out: no more callers


def test_another_key_between_callers_goes_back_to_the_queue(twilio, session, agents):
    agent, ready = sign_in(twilio)
    after = agent.post(one(ready, "//Dial/@action"), DialCallStatus="no-answer")
    again = agent.press(after, "5")
    assert one(again, "/Response/Dial/Queue/text()") == "local-desk" and not xpath(again, "//Gather")
    assert call_row(session, agent.sid).node == "agent_ready"


def test_hanging_up_signs_the_agent_out(twilio, session, agents):
    agent, ready = sign_in(twilio)
    params = agent.twilio.call_params(agent.sid, AGENT_PHONE, AGENT_LINE, status="completed")
    done = parse(twilio.post(one(ready, "//Dial/@action"), params | {"DialCallStatus": "no-answer"}))
    assert xpath(done, "/Response/Hangup")
    assert events(session, agent.sid, "agent_signed_out")[0].data == {"how": "hung up"}


def test_after_the_agent_hangs_up_the_caller_is_surveyed(twilio, session, agents):
    caller, enqueued = queued_caller(twilio)
    agent, ready = sign_in(twilio)
    whisper(twilio, caller, agent, queue_time="35")
    agent.post(
        one(ready, "//Dial/@action"),
        DialCallStatus="completed",
        DialCallDuration="240",
        DialCallSid=caller.sid,
    )
    survey = caller.post(one(enqueued, "//Enqueue/@action"), QueueResult="bridged", QueueTime="35")
    assert "how satisfied were you" in said(survey)
    caller.press(survey, "4")
    row = call_row(session, caller.sid)
    assert (row.desk, row.agent, row.talk_time, row.queue_time, row.queue_result, row.survey_score) == (
        "local",
        "1001",
        240,
        35,
        "bridged",
        4,
    )


# -- safety ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/agent/pin", "/voice/agent/whisper"])
def test_unsigned_requests_are_refused(twilio, session, agents, path):
    params = twilio.call_params(new_sid(), AGENT_PHONE, AGENT_LINE) | {"Digits": "432198"}
    answer = twilio.post(path, params, signature="")
    assert answer.status_code == 403
    forged = twilio.post(path, params, signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403
    assert session.scalars(select(Call)).all() == []


def test_a_step_for_a_call_not_on_the_agent_line_hangs_up_and_creates_nothing(twilio, session, agents):
    caller, _enqueued = queued_caller(twilio)
    for path in ("/voice/agent/pin", "/voice/agent/dialed", "/voice/agent/key"):
        answer = parse(twilio.post(path, caller.params(Digits="432198", DialCallStatus="completed")))
        assert xpath(answer, "/Response/Hangup") and not xpath(answer, "//Dial")
    stranger = parse(twilio.post("/voice/agent/id", twilio.call_params(new_sid(), status="in-progress")))
    assert xpath(stranger, "/Response/Hangup")
    assert len(session.scalars(select(Call)).all()) == 1
    assert call_row(session, caller.sid).agent is None


def test_an_error_in_a_step_still_answers_twiml(twilio, session, agents, monkeypatch):
    driver = agent_call(twilio)
    pin = driver.press(driver.start(), "1001")

    def broken(*_args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("ivr.voice.agent_line.verify_agent", broken)  # SQLite's check
    monkeypatch.setattr("ivr.voice.pin_try.tried", broken)  # PostgreSQL's
    answer = driver.press(pin, "432198")
    assert said(answer).startswith("Sorry, the agent line has a problem.")
    assert xpath(answer, "/Response/Hangup")
    row = call_row(session, driver.sid)
    assert row.errors == 1 and row.desk is None
    assert "database on fire" in events(session, driver.sid, "error")[0].data["error"]


def test_an_error_in_the_whisper_still_connects_the_caller(twilio, session, agents, monkeypatch):
    caller, _enqueued = queued_caller(twilio)
    agent, _ready = sign_in(twilio)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("lost link")

    for store in ("SQLiteSteps", "PostgreSQLSteps"):  # the leg changes' one write (ivr.calls.steps)
        monkeypatch.setattr(f"ivr.calls.steps.{store}.write_legs", broken)
    answer = whisper(twilio, caller, agent)
    assert len(answer) == 0  # Twilio allows only Play, Say, Pause and Redirect here: nothing is safest
    assert call_row(session, caller.sid).errors == 1 and call_row(session, caller.sid).agent is None


def test_pins_are_hashed(session, agents):
    stored = session.scalars(select(Agent.pin_hash).where(Agent.agent_id == "1001")).one()
    assert "432198" not in stored
    ana = find_agent(session, "1001")
    assert verify_agent(session, ana, "432198", AGENT_PHONE, AGENT_LINE, OPEN).agent is ana
    assert verify_agent(session, ana, "432199", AGENT_PHONE, AGENT_LINE, OPEN).agent is None
    assert verify_agent(session, None, "432198", AGENT_PHONE, AGENT_LINE, OPEN).agent is None


# -- a whole pair through the simulator ------------------------------------------------------------


def test_a_caller_and_an_agent_calling_in_meet_through_the_simulator(app, session, agents):
    meeting = caller_meets_agent(app)
    caller, agent, results = meeting.caller, meeting.agent, meeting.results
    for name, result in results.items():
        assert result.ok, (name, result.error, [e.what for e in result.events])

    row = call_row(session, caller.sid)
    assert (row.role, row.desk, row.agent, row.peer_call_sid) == ("caller", "local", "1001", agent.sid)
    assert (row.talk_time, row.queue_result, row.survey_score, row.status) == (200, "bridged", 5, "completed")
    assert 60 < row.queue_time < 120  # the agent called in after 90 s and signed in
    leg = call_row(session, agent.sid)
    assert (leg.role, leg.desk, leg.agent, leg.peer_call_sid, leg.node) == (
        "agent",
        "local",
        "1001",
        caller.sid,
        "agent_signed_out",
    )
    assert leg.duration is not None and leg.duration >= 200
    kinds = event_kinds(session, agent.sid)
    assert kinds.index("agent_signed_in") < kinds.index("agent_bridged") < kinds.index("agent_call_ended")
    assert kinds.index("agent_call_ended") < kinds.index("agent_signed_out")
    assert any(e.what.startswith("is connected to +15125550142") for e in results["agent"].events)


# -- ivr agent -------------------------------------------------------------------------------------


def test_agent_create_list_and_deactivate(env, session, twilio):
    cli = CliRunner()
    created = cli.invoke(
        main, ["agent", "create", "--desk", "local", "--id", "1234", "--name", "Eve"], input="246813\n" * 2
    )
    assert created.exit_code == 0, created.output
    assert "agent 1234 (Eve) created on desk local" in created.output
    assert verify_agent(session, find_agent(session, "1234"), "246813", AGENT_PHONE, AGENT_LINE, OPEN).agent
    session.commit()

    from_env = cli.invoke(
        main, ["agent", "create", "--desk", "bpo", "--id", "5678"], env={"IVR_AGENT_PIN": "135724"}
    )
    assert from_env.exit_code == 0, from_env.output

    listed = cli.invoke(main, ["agent", "list"])
    assert listed.exit_code == 0
    rows = [line.split() for line in listed.output.splitlines()[1:]]
    assert [row[:3] for row in rows] == [["5678", "bpo", "active"], ["1234", "local", "active"]]
    assert "246813" not in listed.output

    off = cli.invoke(main, ["agent", "deactivate", "1234"])
    assert off.exit_code == 0 and "agent 1234 deactivated" in off.output
    session.expire_all()
    assert session.scalars(select(Agent.active).where(Agent.agent_id == "1234")).one() is False
    as_json = json.loads(cli.invoke(main, ["agent", "list", "--json"]).output)
    eve = {"agent_id": "1234", "desk": "local", "name": "Eve", "active": False, "pin": "ok"}
    assert eve | {"locked_until": None} in as_json

    _driver, refused = sign_in(twilio, "1234", "246813")  # a deactivated agent cannot take calls
    assert said(refused).startswith("This agent account is not active.")


@pytest.mark.parametrize(
    ("args", "pin", "message"),
    [
        (["--desk", "night", "--id", "11"], "123456", "desk 'night' is not in the published site"),
        (["--desk", "local", "--id", "12a"], "123456", "the agent id must be 2 to 16 digits"),
        (["--desk", "local", "--id", "1001"], "123456", "agent 1001 already exists"),
        (["--desk", "local", "--id", "13"], "12", "the PIN must be 6 to 12 digits"),
        (["--desk", "local", "--id", "13"], "12345", "the PIN must be 6 to 12 digits"),
    ],
)
def test_agent_create_refuses_bad_input(env, session, agents, args, pin, message):
    result = CliRunner().invoke(main, ["agent", "create", *args], env={"IVR_AGENT_PIN": pin})
    assert result.exit_code != 0
    assert message in result.output


def test_agent_deactivate_names_an_unknown_agent(env):
    result = CliRunner().invoke(main, ["agent", "deactivate", "4040"])
    assert result.exit_code == 1 and "no agent 4040" in result.output
