"""Route, enqueue, dial and voicemail: handing the caller to a desk, a number or a recording."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine import Callback, CallUpdates, LogEntry
from ivr.engine.actions import Dial, Enqueue, Gather, Hangup, Leave, Play, Record

from .support import MONDAY_MORNING, Call, hangup, make_site, say_de, say_en, say_es

HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
RESULT = Callback("main", "queue", "result")
WAIT = Callback("main", "queue", "wait")
FIXED = {"route_strategy": "fixed", "assignment": "directed", "segment": "(none)"}
FALLBACK = FIXED | {"route_strategy": "fallback"}
ENDINGS = {
    "survey": {"type": "survey", "prompt": "Please rate the call."},
    "waited_too_long": hangup("Sorry for the wait."),
    "no_agents": hangup("No one can take your call."),
}


def queue_call(
    route_to: str | None = "local", *, lang: str | None = None, flow: Any = None, **fields: Any
) -> Call:
    """A call that is routed to `route_to` (unless None) and then reaches the enqueue node 'queue'."""
    queue = {
        "type": "enqueue",
        "next": "survey",
        "timeout": "waited_too_long",
        "failed": "no_agents",
    } | fields
    nodes: dict[str, Any] = {}
    if lang is not None:
        nodes["choose"] = {"type": "set", "values": {"lang": lang}, "next": "queue"}
    if route_to is not None:
        nodes["route"] = {"type": "route", "desk": route_to, "next": "queue"}
        nodes.get("choose", {})["next"] = "route"
    nodes |= {"queue": {k: v for k, v in queue.items() if v is not None}, **ENDINGS}
    return Call(make_site(nodes, **(flow or {})))


class TestRoute:
    def test_route_sets_the_desk_variable_and_the_calls_desk(self) -> None:
        call = queue_call("bpo")
        route = call.entry("route")
        how = {"assignment": "directed", "segment": "(none)"}
        fixed = {"desk": "bpo", "strategy": "fixed", "reason": "fixed desk"}
        assert route == LogEntry("route", "route", fixed | how)
        assert call.state.variables == {"desk": "bpo"}
        assert call.result.updates == CallUpdates(
            desk="bpo", queued_at=MONDAY_MORNING, route_strategy="fixed", **how
        )
        assert call.actions == [Enqueue("bpo-desk", wait=WAIT, action=RESULT)]


class TestEnqueue:
    def test_a_queue_desk_named_by_the_node_puts_the_caller_in_its_twilio_queue(self) -> None:
        call = queue_call(None, desk="local")
        assert call.actions == [Enqueue("local-desk", wait=WAIT, action=RESULT)]
        assert call.entry("queue_entered").data == {"desk": "local", "queue": "local-desk"}
        assert call.result.updates == CallUpdates(desk="local", queued_at=MONDAY_MORNING, **FALLBACK)
        assert call.state.node == "queue"

    def test_a_dial_desk_is_dialled(self) -> None:
        call = queue_call("phone")
        assert call.actions == [Dial(("+15125550199",), action=RESULT)]
        assert call.entry("dial_started").data == {"desk": "phone", "to": ["+15125550199"]}
        assert call.result.updates == CallUpdates(desk="phone", queued_at=MONDAY_MORNING, **FIXED)

    @pytest.mark.parametrize("desk", [None, "nowhere"])
    def test_an_unknown_desk_takes_the_failed_branch(self, desk: str | None) -> None:
        nodes = {"queue": {"type": "enqueue", "failed": "no_agents"}, **ENDINGS}
        if desk is not None:
            nodes = {"pick": {"type": "set", "values": {"desk": desk}, "next": "queue"}, **nodes}
        call = Call(make_site(nodes))
        assert call.entry("error").data == {"message": f"unknown desk {desk or ''!r}"}
        assert call.actions == [say_en("No one can take your call."), Hangup()]
        assert call.result.updates == CallUpdates()

    def test_while_waiting_the_caller_hears_the_hold_prompt(self) -> None:
        call = queue_call(hold=["All agents are busy.", {"play": "https://example.com/music.mp3"}])
        call.step("wait", QueuePosition="2", QueueTime="45", CurrentQueueSize="3", AvgQueueTime="30")
        assert call.actions == [say_en("All agents are busy."), Play("https://example.com/music.mp3")]
        assert call.entry("queue_wait").data == {"position": 2, "queue_time": 45}
        assert call.state.node == "queue"

    def test_without_a_hold_prompt_the_caller_hears_music(self) -> None:
        call = queue_call()
        call.step("wait", QueuePosition="1", QueueTime="5")
        assert call.actions == [Play(HOLD_MUSIC)]

    @pytest.mark.parametrize(
        ("lang", "expected"),
        [
            (None, say_en("You are caller number 3 in line.")),
            ("es", say_es("Usted es la persona número 3 en la fila.")),
            # No German phrase: English, spoken by the English voice.
            ("de", say_en("You are caller number 3 in line.")),
        ],
    )
    def test_the_position_is_announced_in_the_callers_language(self, lang: str | None, expected: Any) -> None:
        call = queue_call(lang=lang, announce_position=True)
        call.step("wait", QueuePosition="3", QueueTime="20")
        assert call.actions == [expected, Play(HOLD_MUSIC)]

    def test_a_flow_without_a_translated_position_phrase_speaks_english_in_its_own_voice(self) -> None:
        german = {"languages": {"de": {"code": "de-DE", "voice": "Polly.Marlene"}}, "default_language": "de"}
        call = queue_call(flow=german, announce_position=True)
        call.step("wait", QueuePosition="4", QueueTime="20")
        assert call.actions[0] == say_de("You are caller number 4 in line.")

    @pytest.mark.parametrize(
        "params", [{"QueueTime": "20"}, {"QueuePosition": "0", "QueueTime": "5"}, {"QueuePosition": "x"}]
    )
    def test_no_position_no_announcement(self, params: dict[str, str]) -> None:
        call = queue_call(announce_position=True)
        call.step("wait", **params)
        assert call.actions == [Play(HOLD_MUSIC)]

    def test_position_is_not_announced_unless_asked(self) -> None:
        call = queue_call()
        call.step("wait", QueuePosition="3", QueueTime="20")
        assert call.actions == [Play(HOLD_MUSIC)]

    @pytest.mark.parametrize("waited", ["120", "900"])
    def test_the_caller_leaves_the_queue_after_max_wait(self, waited: str) -> None:
        call = queue_call(max_wait=120, announce_position=True)
        call.step("wait", QueuePosition="1", QueueTime=waited)
        assert call.actions == [Leave()]
        assert call.entry("queue_timeout").data == {
            "queue_time": int(waited),
            "max_wait": 120,
            "rule": "timeout",
        }

    def test_the_caller_keeps_waiting_before_max_wait(self) -> None:
        call = queue_call(max_wait=120, announce_position=True)
        call.step("wait", QueuePosition="1", QueueTime="119")
        assert call.actions == [say_en("You are caller number 1 in line."), Play(HOLD_MUSIC)]
        assert call.entries("queue_timeout") == []

    @pytest.mark.parametrize("result", ["bridged", "bridging-in-process", "redirected-from-bridged"])
    def test_after_talking_to_an_agent_the_caller_gets_the_survey(self, result: str) -> None:
        call = queue_call()
        call.step("result", QueueResult=result, QueueTime="42", QueueSid="QU1")
        assert call.result.updates == CallUpdates(queue_result=result, queue_time=42)
        assert call.entry("queue_left").data == {"result": result, "queue_time": 42}
        (gather,) = call.actions
        assert isinstance(gather, Gather)
        assert gather.action == Callback("main", "survey", "input")

    def test_after_talking_to_an_agent_without_next_the_call_ends(self) -> None:
        call = queue_call(next=None)
        call.step("result", QueueResult="bridged", QueueTime="42")
        assert call.actions == [Hangup()]

    @pytest.mark.parametrize("result", ["hangup", "redirected"])
    def test_a_caller_who_hung_up_is_not_sent_anywhere(self, result: str) -> None:
        call = queue_call()
        call.step("result", QueueResult=result, QueueTime="70")
        assert call.actions == [Hangup()]
        assert call.result.updates == CallUpdates(queue_result=result, queue_time=70)

    def test_leaving_after_max_wait_takes_the_timeout_branch(self) -> None:
        call = queue_call(max_wait=120)
        call.step("wait", QueueTime="120")
        call.step("result", QueueResult="leave", QueueTime="121")
        assert call.actions == [say_en("Sorry for the wait."), Hangup()]

    def test_leaving_without_a_timeout_branch_takes_the_failed_branch(self) -> None:
        call = queue_call(timeout=None)
        call.step("result", QueueResult="leave", QueueTime="121")
        assert call.actions == [say_en("No one can take your call."), Hangup()]

    @pytest.mark.parametrize(
        "params",
        [{"QueueResult": "queue-full"}, {"QueueResult": "error"}, {"QueueResult": "system-error"}, {}],
    )
    def test_a_queue_that_failed_takes_the_failed_branch(self, params: dict[str, str]) -> None:
        call = queue_call()
        call.step("result", **params)
        assert call.actions == [say_en("No one can take your call."), Hangup()]
        result = params.get("QueueResult", "error")
        assert call.result.updates == CallUpdates(queue_result=result, queue_time=None)

    def test_a_dialled_desk_that_answered_goes_on_to_the_survey(self) -> None:
        call = queue_call("phone")
        call.step("result", DialCallStatus="completed", DialCallDuration="300", DialCallSid="CA9")
        assert call.result.updates == CallUpdates(talk_time=300, queue_result="bridged")
        assert call.entry("dial_result").data == {
            "status": "completed",
            "duration": 300,
            "dial_call_sid": "CA9",
        }
        assert call.actions[0].action == Callback("main", "survey", "input")

    @pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
    def test_a_dialled_desk_that_did_not_answer_takes_the_failed_branch(self, status: str) -> None:
        call = queue_call("phone")
        call.step("result", DialCallStatus=status, DialCallDuration="0")
        assert call.actions == [say_en("No one can take your call."), Hangup()]
        assert call.result.updates == CallUpdates(queue_result=status)
        assert call.entry("failover").data == {
            "desk": "phone",
            "to": None,
            "reason": f"dial {status}; no failover rule",
        }


DIAL_ENDINGS = {
    "done": hangup("Thanks for calling."),
    "engaged": hangup("The line is busy."),
    "unanswered": hangup("Nobody answered."),
    "broken": hangup("The call could not be connected."),
}


def dial_call(**fields: Any) -> Call:
    node = {
        "type": "dial",
        "to": "+15125550123",
        "next": "done",
        "busy": "engaged",
        "no_answer": "unanswered",
        "failed": "broken",
    } | fields
    return Call(make_site({"dial": {k: v for k, v in node.items() if v is not None}, **DIAL_ENDINGS}))


class TestDial:
    def test_dials_one_target_with_the_default_timeout(self) -> None:
        call = dial_call()
        assert call.actions == [Dial(("+15125550123",), action=Callback("main", "dial", "result"))]
        assert call.entry("dial_started").data == {"to": ["+15125550123"]}

    def test_dials_several_targets_with_timeout_and_caller_id(self) -> None:
        call = dial_call(
            to=["+15125550123", "sip:desk@example.com"], timeout_seconds=30, caller_id="+15125550100"
        )
        assert call.actions == [
            Dial(
                ("+15125550123", "sip:desk@example.com"),
                action=Callback("main", "dial", "result"),
                timeout=30,
                caller_id="+15125550100",
            )
        ]

    @pytest.mark.parametrize(
        ("status", "ending"),
        [
            ("completed", "Thanks for calling."),
            ("answered", "Thanks for calling."),
            ("busy", "The line is busy."),
            ("no-answer", "Nobody answered."),
            ("failed", "The call could not be connected."),
            ("canceled", "The call could not be connected."),
        ],
    )
    def test_each_dial_status_takes_its_branch(self, status: str, ending: str) -> None:
        call = dial_call()
        call.step("result", DialCallStatus=status, DialCallDuration="12", DialCallSid="CA5")
        assert call.actions == [say_en(ending), Hangup()]
        assert call.entry("dial_result").data == {"status": status, "duration": 12, "dial_call_sid": "CA5"}

    def test_talk_time_is_recorded_only_for_answered_calls(self) -> None:
        answered, busy = dial_call(), dial_call()
        answered.step("result", DialCallStatus="completed", DialCallDuration="95")
        busy.step("result", DialCallStatus="busy", DialCallDuration="0")
        assert answered.result.updates == CallUpdates(talk_time=95)
        assert busy.result.updates == CallUpdates()

    @pytest.mark.parametrize(("status", "missing"), [("busy", "busy"), ("no-answer", "no_answer")])
    def test_a_missing_branch_falls_back_to_failed(self, status: str, missing: str) -> None:
        call = dial_call(**{missing: None})
        call.step("result", DialCallStatus=status)
        assert call.actions == [say_en("The call could not be connected."), Hangup()]

    def test_a_result_without_status_counts_as_failed(self) -> None:
        call = dial_call()
        call.step("result")
        assert call.entry("dial_result").data == {"status": "failed", "duration": None, "dial_call_sid": None}
        assert call.state.node == "broken"

    def test_an_answered_call_without_next_hangs_up(self) -> None:
        call = dial_call(next=None)
        call.step("result", DialCallStatus="completed", DialCallDuration="5")
        assert call.actions == [Hangup()]


class TestVoicemail:
    PROMPT = "Please leave a message after the tone."

    def call(self, **fields: Any) -> Call:
        node = {"type": "voicemail", "prompt": self.PROMPT} | fields
        return Call(make_site({"vm": node, "after": hangup("Your message was saved.")}))

    def test_plays_the_prompt_and_records(self) -> None:
        call = self.call()
        assert call.actions == [say_en(self.PROMPT), Record(action=Callback("main", "vm", "result"))]

    def test_recording_options_are_passed_on(self) -> None:
        (_, record) = self.call(max_length=30, transcribe=True, finish_on_key="*").actions
        assert record == Record(
            Callback("main", "vm", "result"), max_length=30, transcribe=True, finish_on_key="*"
        )

    def test_a_recording_is_stored_on_the_call_and_the_call_ends(self) -> None:
        call = self.call()
        url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
        call.step("result", RecordingUrl=url, RecordingDuration="17", RecordingSid="RE1")
        assert call.result.updates == CallUpdates(recording_url=url, recording_duration=17)
        assert call.entry("recording").data == {"url": url, "duration": 17, "recording_sid": "RE1"}
        assert call.actions == [Hangup()]

    def test_no_recording_updates_nothing(self) -> None:
        call = self.call(next="after")
        call.step("result")
        assert call.result.updates == CallUpdates()
        assert call.entry("recording").data == {"url": None, "duration": 0, "recording_sid": None}
        assert call.actions == [say_en("Your message was saved."), Hangup()]
