"""The agent line's state machine: which leg may take which step, and each step's actions and leg changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr.engine import FlowError, LogEntry
from ivr.engine import agent_line as line
from ivr.engine.actions import DialQueue, Gather, Hangup, LineCallback, Say
from ivr.engine.site import AgentLine, Desk, Site

LINE = AgentLine(("+15125550199",), "en-GB", "Polly.Amy")
SITE = Site(
    flows={},
    desks={
        "local": Desk("local", "Local desk", queue="local-desk"),
        "bpo": Desk("bpo", "BPO desk", queue="bpo-desk"),
        "phone": Desk("phone", "Answering service", dial="+15125550177"),
    },
    schedules={},
    fallback={},
    agent_line=LINE,
)
NEW = line.Leg(7, "CAagent", "caller", None, None, None, None, {}, {}, None)
SIGNING_IN = replace(NEW, role="agent", site_version_id=3, node="agent_id")
KEYED = "ab" * 32  # what the view hands in for a typed id: its keyed hash
AT_PIN = replace(SIGNING_IN, node="agent_pin", variables={"entered_id_hash": KEYED})
READY = replace(SIGNING_IN, desk="local", agent="1001", node="agent_ready")
CALLER = line.Leg(9, "CAcaller", "caller", "local", None, 3, "queue", {}, {}, None)
ANA = line.Account("1001", "local", "Ana", True)
SUPERVISOR = "Please contact your supervisor."


def say(text: str, spoken: AgentLine | None = LINE) -> Say:
    """A Say in the line's voice."""
    return Say(text, voice=spoken.voice if spoken else None, language=spoken.language if spoken else None)


def offer(desk: str = "local") -> tuple[Say, DialQueue]:
    """Naming the desk's queue and taking its next caller."""
    queue = SITE.desks[desk].queue
    assert queue is not None
    take = DialQueue(queue, LineCallback("dialed"), LineCallback("whisper"), timeout=line.WAIT_SECONDS)
    return say(f"{SITE.desks[desk].label}, queue {queue}."), take


def only(result: line.LineStep) -> line.LegChange:
    """The one leg change of a step."""
    assert len(result.changes) == 1
    return result.changes[0]


# -- which leg may take which step -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("leg", "allowed"),
    [
        (None, set()),
        (NEW, set()),
        (SIGNING_IN, {"id", "pin"}),
        (AT_PIN, {"id", "pin"}),
        (replace(SIGNING_IN, site_version_id=None), set()),
        (replace(SIGNING_IN, desk="local"), set()),
        (replace(SIGNING_IN, node="agent_locked_out", agent="1001"), {"whisper"}),
        (READY, {"dialed", "key", "whisper"}),
        (replace(READY, node="agent_talking"), {"dialed", "key", "whisper"}),
        (replace(READY, node="agent_signed_out"), {"whisper"}),
        (replace(READY, role="caller"), {"whisper"}),
        (replace(READY, site_version_id=None), {"whisper"}),
        (replace(READY, desk=None), {"whisper"}),
    ],
)
def test_a_leg_takes_only_the_steps_of_where_it_is(leg, allowed):
    steps = ("id", "pin", "whisper", "dialed", "key")
    assert {step for step in steps if line.at_step(leg, step)} == allowed


def test_a_step_for_a_leg_elsewhere_is_an_error():
    with pytest.raises(FlowError, match="agent_ready.*cannot take the pin step"):
        line.step(SITE, READY, line.PinChecked(ANA))


def test_updates_list_only_the_columns_set():
    updates = line.LegUpdates(node="agent_id", variables={}, tries={"sign_in": 1}, talk_time=0)
    assert updates.changed() == {"node": "agent_id", "variables": {}, "tries": {"sign_in": 1}, "talk_time": 0}
    assert line.LegUpdates().changed() == {}
    assert line.LegUpdates(talk_time=None).changed() == {"talk_time": None}  # None clears a column


# -- signing in ------------------------------------------------------------------------------------


def test_a_call_becomes_an_agent_leg_asked_for_its_id_keeping_failed_attempts():
    retried = replace(NEW, tries={"sign_in": 2})
    result = line.step(SITE, retried, line.Called("+15125550199", 3))
    text = "Agent line. Please enter your agent ID, followed by the pound key."
    assert result.actions == (Gather(LineCallback("id"), (say(text),), timeout=10, finish_on_key="#"),)
    assert only(result) == line.LegChange(
        7,
        line.LegUpdates(role="agent", site_version_id=3, node="agent_id", variables={}, tries={"sign_in": 2}),
        (LogEntry("agent_line_called", "agent_id", {"number": "+15125550199"}),),
    )


def test_a_line_without_its_own_voice_speaks_in_twilios():
    result = line.step(replace(SITE, agent_line=None), NEW, line.Called("+15125550199", 3))
    text = "Agent line. Please enter your agent ID, followed by the pound key."
    assert result.actions == (Gather(LineCallback("id"), (Say(text),), timeout=10, finish_on_key="#"),)


def test_only_the_ids_keyed_hash_is_kept_and_the_pin_asked_whatever_the_id():
    result = line.step(SITE, SIGNING_IN, line.IdEntered(KEYED, 20))
    pin = say("Please enter your PIN, followed by the pound key.")
    assert result.actions == (Gather(LineCallback("pin"), (pin,), timeout=10, finish_on_key="#"),)
    assert only(result).updates == line.LegUpdates(node="agent_pin", variables={"entered_id_hash": KEYED})
    assert only(result).log == (LogEntry("agent_id_entered", "agent_id", {"digits": 20}),)
    assert line.entered_id(SIGNING_IN) == "" and line.entered_id(AT_PIN) == KEYED


def test_a_wrong_pair_asks_for_the_id_again():
    result = line.step(SITE, AT_PIN, line.PinChecked(None))
    text = "That agent ID and PIN do not match. Please enter your agent ID, followed by the pound key."
    assert result.actions == (Gather(LineCallback("id"), (say(text),), timeout=10, finish_on_key="#"),)
    assert only(result).updates == line.LegUpdates(node="agent_id", variables={}, tries={"sign_in": 1})
    assert only(result).log == (LogEntry("agent_sign_in_failed", "agent_pin", {"attempt": 1}),)


def test_the_third_wrong_pair_locks_the_call_out():
    result = line.step(SITE, replace(AT_PIN, tries={"sign_in": 2}), line.PinChecked(None))
    assert result.actions == (
        say("That agent ID and PIN do not match. Too many attempts. Goodbye."),
        Hangup(),
    )
    assert only(result).updates == line.LegUpdates(
        node="agent_locked_out", variables={}, tries={"sign_in": 3}
    )
    assert [entry.kind for entry in only(result).log] == ["agent_sign_in_failed", "agent_locked_out"]
    assert only(result).log[1].data == {"attempts": 3}


@pytest.mark.parametrize(
    ("locked", "heard"),
    [
        ("caller", "Too many wrong PINs from this phone. Please try again later. Goodbye."),
        (
            "line",
            "Too many wrong PINs on this line. Please try again later, or call another agent line. Goodbye.",
        ),
    ],
)
def test_a_lock_on_the_phone_or_the_line_ends_the_call_at_the_first_try(locked, heard):
    result = line.step(SITE, AT_PIN, line.PinChecked(None, locked))
    assert result.actions == (say(heard), Hangup())
    assert only(result).updates == line.LegUpdates(
        node="agent_locked_out", variables={}, tries={"sign_in": 1}
    )
    assert only(result).log == (
        LogEntry("agent_sign_in_failed", "agent_pin", {"attempt": 1}),
        LogEntry("agent_locked_out", "agent_pin", {"attempts": 1, "by": locked}),
    )


@pytest.mark.parametrize(
    ("account", "heard", "reason"),
    [
        (replace(ANA, active=False), f"This agent account is not active. {SUPERVISOR}", "inactive"),
        (
            replace(ANA, pin_expired=True),
            "Your PIN has expired. Please ask your supervisor for a new one.",
            "pin_expired",
        ),
        (replace(ANA, desk="night"), f"Your desk is not set up on this line. {SUPERVISOR}", "unknown_desk"),
        (
            replace(ANA, desk="phone"),
            "Answering service takes its calls by phone, not from a queue.",
            "no_queue",
        ),
    ],
)
def test_agents_who_cannot_take_calls_here_are_refused(account, heard, reason):
    result = line.step(SITE, AT_PIN, line.PinChecked(account))
    assert result.actions == (say(f"{heard} Goodbye."), Hangup())
    assert only(result).updates == line.LegUpdates(agent="1001", node="agent_refused", variables={})
    data = {"agent": "1001", "desk": account.desk, "reason": reason}
    assert only(result).log == (LogEntry("agent_refused", "agent_pin", data),)


@pytest.mark.parametrize(("name", "welcome"), [("Ana", "Welcome, Ana."), (None, "Welcome.")])
def test_a_matching_agent_is_signed_in_and_offered_the_desk_queue(name, welcome):
    result = line.step(SITE, replace(AT_PIN, tries={"sign_in": 1}), line.PinChecked(replace(ANA, name=name)))
    opening = say(f"{welcome} You are signed in. Press star to end a call.")
    assert result.actions == (opening, *offer())
    updates = line.LegUpdates(desk="local", agent="1001", node="agent_ready", variables={}, tries={})
    data = {"agent": "1001", "desk": "local", "queue": "local-desk"}
    assert only(result) == line.LegChange(7, updates, (LogEntry("agent_signed_in", "agent_ready", data),))


# -- the bridge ------------------------------------------------------------------------------------


def test_the_whisper_links_both_legs_and_says_nothing():
    result = line.step(SITE, READY, line.Whispered(CALLER, 42))
    assert result.actions == ()
    to_caller, to_agent = result.changes
    assert to_caller == line.LegChange(
        9,
        line.LegUpdates(agent="1001", peer_call_sid="CAagent", queue_time=42),
        (
            LogEntry(
                "agent_bridged", "queue", {"agent": "1001", "agent_call_sid": "CAagent", "queue_time": 42}
            ),
        ),
    )
    assert to_agent == line.LegChange(
        7,
        line.LegUpdates(peer_call_sid="CAcaller", node="agent_talking"),
        (LogEntry("agent_bridged", "agent_talking", {"caller_call_sid": "CAcaller", "queue_time": 42}),),
    )


def test_a_caller_taken_by_another_desk_keeps_it_and_the_agents_is_noted(caplog):
    result = line.step(SITE, replace(READY, desk="bpo"), line.Whispered(CALLER, None))
    assert result.changes[0].log[0].data["agent_desk"] == "bpo"
    assert result.changes[0].updates == line.LegUpdates(agent="1001", peer_call_sid="CAagent")
    assert "taken by agent 1001 of desk bpo" in caplog.text


TALKING = replace(READY, node="agent_talking", peer_call_sid="CAcaller")
LINKED = replace(CALLER, peer_call_sid="CAagent")


@pytest.mark.parametrize(
    ("dialed", "linked"),
    [(CALLER, None), (replace(CALLER, role="agent"), LINKED), (None, LINKED)],
)
def test_the_talk_time_goes_on_the_caller_found_by_dial_sid_or_whisper_link(dialed, linked):
    event = line.Dialed("completed", 187, "CAcaller", hung_up=False, dialed=dialed, linked=linked)
    result = line.step(SITE, TALKING, event)
    assert result.actions == (
        Gather(
            LineCallback("key"),
            (say("Call ended. Press star to sign out."),),
            timeout=line.KEY_SECONDS,
            num_digits=1,
            report_empty=False,
        ),
        *offer(),
    )
    to_caller, to_agent = result.changes
    assert to_caller.leg_id == 9
    assert to_caller.updates == line.LegUpdates(talk_time=187, agent="1001", peer_call_sid="CAagent")
    ended = {"agent": "1001", "talk_time": 187, "agent_call_sid": "CAagent"}
    assert to_caller.log == (LogEntry("agent_call_ended", "queue", ended),)
    assert to_agent.updates == line.LegUpdates(node="agent_ready")
    data = {"caller_call_sid": "CAcaller", "status": "completed", "talk_time": 187}
    assert to_agent.log == (LogEntry("agent_call_ended", "agent_ready", data),)


@pytest.mark.parametrize("linked", [None, CALLER])  # a link must point back at this agent
def test_an_answered_dial_without_its_caller_is_noted(linked):
    event = line.Dialed("answered", None, None, hung_up=False, linked=linked)
    change = only(line.step(SITE, TALKING, event))
    data = {"status": "answered", "talk_time": None, "dial_call_sid": None}
    assert change.log == (LogEntry("agent_call_unmatched", "agent_ready", data),)


def test_an_empty_queue_is_offered_again():
    result = line.step(SITE, READY, line.Dialed("no-answer", 0, None, hung_up=False))
    assert result.actions[0] == Gather(
        LineCallback("key"),
        (say("Nobody is waiting. Press star to sign out."),),
        timeout=line.KEY_SECONDS,
        num_digits=1,
        report_empty=False,
    )
    assert result.actions[1:] == offer()
    data = {"status": "no-answer", "queue": "local-desk"}
    assert only(result).log == (LogEntry("agent_queue_empty", "agent_ready", data),)


def test_an_agent_who_hung_up_is_signed_out_after_the_talk_time_is_stored():
    event = line.Dialed("completed", 60, "CAcaller", hung_up=True, dialed=CALLER)
    result = line.step(SITE, TALKING, event)
    assert result.actions == (say("Goodbye."), Hangup())
    to_caller, to_agent = result.changes
    assert to_caller.updates.talk_time == 60
    assert to_agent.updates == line.LegUpdates(node="agent_signed_out")
    assert [entry.kind for entry in to_agent.log] == ["agent_call_ended", "agent_signed_out"]
    assert to_agent.log[-1].data == {"how": "hung up"}


def test_a_talk_time_twilio_left_out_is_stored_as_unknown():
    event = line.Dialed(
        "completed", None, "CAcaller", hung_up=False, dialed=replace(CALLER, peer_call_sid=None)
    )
    to_caller, _to_agent = line.step(SITE, TALKING, event).changes
    assert to_caller.updates.changed() == {"talk_time": None, "agent": "1001", "peer_call_sid": "CAagent"}


@pytest.mark.parametrize("desk", ["night", "phone"])
def test_a_desk_without_a_queue_in_the_version_is_an_error(desk):
    with pytest.raises(FlowError, match=f"desk '{desk}' has no queue"):
        line.step(SITE, replace(READY, desk=desk), line.KeyPressed("5"))


def test_star_between_callers_signs_out():
    result = line.step(SITE, READY, line.KeyPressed("*"))
    assert result.actions == (say("You are signed out. Goodbye."), Hangup())
    change = only(result)
    assert change.updates == line.LegUpdates(node="agent_signed_out")
    assert change.log == (LogEntry("agent_signed_out", "agent_signed_out", {"how": "star"}),)


def test_another_key_goes_back_to_the_queue():
    result = line.step(SITE, READY, line.KeyPressed("5" * 12))
    assert result.actions == offer()
    assert only(result) == line.LegChange(
        7, line.LegUpdates(), (LogEntry("agent_key", "agent_ready", {"digits": 12}),)
    )


def test_a_failed_step_apologises_in_twilios_voice_and_hangs_up():
    assert line.apology() == (Say(line.APOLOGY), Hangup())
