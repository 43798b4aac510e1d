"""Route strategies, overflow and failover: which desk takes a call, and the reason logged for it."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.engine import Callback, CallContext, CallUpdates
from ivr.engine.actions import Dial, Enqueue, Gather, Hangup, Leave, Record
from ivr.engine.routing import QueueStats, caller_key, draw, pick_weighted

from .support import CALL_SID, CALLED, CALLER, MONDAY_MORNING, SITE_DOC, Call, hangup, make_site, say_en

SUNDAY = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # the support schedule is closed all Sunday
RESULT = Callback("main", "queue", "result")
WAIT = Callback("main", "queue", "wait")
HOW = {"assignment": "directed", "segment": "(none)"}  # a route without a label, before any menu
ENDINGS = {
    "survey": {"type": "survey", "prompt": "Please rate the call."},
    "waited_too_long": hangup("Sorry for the wait."),
    "no_agents": hangup("No one can take your call."),
}


def site_doc(**desks: Mapping[str, Any]) -> dict[str, Any]:
    """The test site with some desks' settings added to."""
    doc = copy.deepcopy(SITE_DOC)
    for name, extra in desks.items():
        doc["desks"][name] = doc["desks"].get(name, {"label": name.title(), "queue": f"{name}-desk"}) | extra
    return doc


def routed(
    route: Mapping[str, Any],
    *,
    doc: Mapping[str, Any] | None = None,
    caller: str = CALLER,
    sid: str = CALL_SID,
    now: datetime = MONDAY_MORNING,
    stats: Mapping[str, QueueStats] | None = None,
    queue: Mapping[str, Any] | None = None,
) -> Call:
    """A call that passes a route node (plus `route`'s fields) and reaches the enqueue node 'queue'."""
    nodes = {
        "route": {"type": "route", "next": "queue"} | dict(route),
        "queue": {"type": "enqueue", "next": "survey", "timeout": "waited_too_long", "failed": "no_agents"}
        | dict(queue or {}),
        **ENDINGS,
    }
    figures = (lambda desk: stats[desk]) if stats is not None else None
    ctx = CallContext(call_sid=sid, caller=caller, called=CALLED, now=now, queues=figures)
    return Call(make_site(nodes, site=doc or SITE_DOC), ctx=ctx)


def reason(call: Call) -> str:
    return str(call.entry("route").data["reason"])


class TestDraws:
    def test_a_draw_depends_only_on_its_inputs(self) -> None:
        assert draw("a", "b") == draw("a", "b")
        assert draw("a", "b") != draw("ab", "")
        assert 0 <= draw("x") < 1

    @pytest.mark.parametrize(
        ("point", "desk"), [(0.0, "a"), (0.249, "a"), (0.25, "c"), (0.999, "c"), (1.0, "c")]
    )
    def test_a_point_falls_in_its_desks_share(self, point: float, desk: str) -> None:
        assert pick_weighted({"a": 1, "b": 0, "c": 3}, point) == desk

    @pytest.mark.parametrize(
        ("number", "key"), [("+1 (512) 555-0111", "15125550111"), ("anonymous", ""), ("", "")]
    )
    def test_a_callers_key_is_the_digits_of_the_number(self, number: str, key: str) -> None:
        assert caller_key(number) == key

    @pytest.mark.parametrize(
        ("stats", "wait"),
        [
            (QueueStats(waiting=0, agents=0), None),  # nobody to answer, however short the queue
            (QueueStats(waiting=0, agents=2), 0.0),
            (QueueStats(waiting=3, agents=0), None),
            (QueueStats(waiting=3, agents=2, handle_seconds=200), 300.0),
            (QueueStats(waiting=2, agents=1), 600.0),  # the default handle time: 300 s
        ],
    )
    def test_estimated_wait(self, stats: QueueStats, wait: float | None) -> None:
        assert stats.estimated_wait == wait


class TestFixedAndWeighted:
    def test_fixed_is_the_default_strategy(self) -> None:
        call = routed({"desk": "bpo"})
        assert call.entry("route").data == {"desk": "bpo", "strategy": "fixed", "reason": "fixed desk"} | HOW

    def test_a_weighted_split_follows_the_weights_and_repeats_for_the_same_call(self) -> None:
        weights = {"local": 70, "bpo": 30}
        desks = Counter(
            routed({"strategy": "weighted", "weights": weights}, sid=f"CA{n:032x}").state.variables["desk"]
            for n in range(2000)
        )
        assert 0.66 < desks["local"] / 2000 < 0.74
        again = routed({"strategy": "weighted", "weights": weights}, sid="CA" + "7" * 32)
        first = routed({"strategy": "weighted", "weights": weights}, sid="CA" + "7" * 32)
        assert again.state.variables == first.state.variables
        assert reason(first).startswith("weighted split (local 70, bpo 30): draw 0.")

    def test_a_desk_with_no_weight_gets_no_calls(self) -> None:
        route = {"strategy": "weighted", "weights": {"local": 0, "bpo": 1}}
        desks = {routed(route, sid=f"CA{n:032x}").state.variables["desk"] for n in range(200)}
        assert desks == {"bpo"}


class TestSticky:
    ROUTE = {"strategy": "sticky", "weights": {"local": 1, "bpo": 1}}

    def test_a_caller_always_reaches_the_same_desk_whatever_the_call(self) -> None:
        for n in range(50):
            caller = f"+1512555{n:04d}"
            desks = {
                routed(self.ROUTE, caller=caller, sid=f"CA{m:032x}").state.variables["desk"] for m in range(5)
            }
            assert len(desks) == 1
        assert routed(self.ROUTE, caller="+1 512 555 0007").state.variables == (
            routed(self.ROUTE, caller="+15125550007").state.variables
        )

    def test_callers_are_split_by_the_weights(self) -> None:
        desks = Counter(
            routed(self.ROUTE, caller=f"+1512555{n:04d}").state.variables["desk"] for n in range(1000)
        )
        assert 0.45 < desks["local"] / 1000 < 0.55
        assert reason(routed(self.ROUTE)).startswith("sticky split (local 1, bpo 1): caller hash 0.")

    def test_a_new_salt_reshuffles_the_callers(self) -> None:
        callers = [f"+1512555{n:04d}" for n in range(100)]
        before = [routed(self.ROUTE, caller=c).state.variables["desk"] for c in callers]
        after = [routed(self.ROUTE | {"salt": "2027"}, caller=c).state.variables["desk"] for c in callers]
        assert before != after

    def test_a_withheld_number_is_split_by_the_call(self) -> None:
        call = routed(self.ROUTE, caller="anonymous")
        assert "no caller number, drew 0." in reason(call)


class TestSchedule:
    DOC = site_doc(local={"hours": "support"}, bpo={"timezone": "Asia/Manila"})

    def test_the_first_open_desk_takes_the_call(self) -> None:
        call = routed({"strategy": "schedule", "desks": ["local", "bpo"]}, doc=self.DOC)
        assert call.state.variables["desk"] == "local"
        assert reason(call) == "schedule: local is open (hours 'support')"

    def test_a_closed_desk_is_passed_over(self) -> None:
        call = routed({"strategy": "schedule", "desks": ["local", "bpo"]}, doc=self.DOC, now=SUNDAY)
        assert call.state.variables["desk"] == "bpo"
        assert reason(call) == "schedule: bpo is open (no hours set)"

    @pytest.mark.parametrize(("route", "desk"), [({}, "local"), ({"else": "phone"}, "phone")])
    def test_when_none_is_open_the_else_desk_or_the_first(self, route: dict[str, str], desk: str) -> None:
        call = routed({"strategy": "schedule", "desks": ["local"]} | route, doc=self.DOC, now=SUNDAY)
        assert call.state.variables["desk"] == desk
        assert reason(call) == f"schedule: none of local is open -> {desk}"


class TestOverflow:
    DOC = site_doc(local={"overflow": {"max_wait": 120, "max_queue": 5, "to": "bpo"}})
    ROUTE = {"strategy": "overflow", "desk": "local", "to": "bpo"}

    def test_without_queue_figures_the_first_desk_keeps_the_call(self) -> None:
        call = routed(self.ROUTE, doc=self.DOC)
        assert call.state.variables["desk"] == "local"
        assert reason(call) == "overflow: no queue figures for local, kept"

    @pytest.mark.parametrize(
        ("stats", "desk", "why"),
        [
            (QueueStats(2, 2, 100.0), "local", "overflow: 2 waiting at local, estimated wait 100 s, kept"),
            (QueueStats(5, 9, 10.0), "bpo", "overflow: 5 waiting at local >= max_queue 5 -> bpo"),
            (
                QueueStats(3, 1, 60.0),
                "bpo",
                "overflow: estimated wait at local 180 s > max_wait 120 s -> bpo",
            ),
            (
                QueueStats(1, 0),
                "bpo",
                "overflow: estimated wait at local unknown (no agents signed in) > max_wait 120 s -> bpo",
            ),
        ],
    )
    def test_the_desks_overflow_rule_decides(self, stats: QueueStats, desk: str, why: str) -> None:
        idle = QueueStats(0, 1)
        call = routed(self.ROUTE, doc=self.DOC, stats={"local": stats, "bpo": idle})
        assert (call.state.variables["desk"], reason(call)) == (desk, why)

    def test_the_nodes_thresholds_win(self) -> None:
        stats = {"local": QueueStats(3, 1, 60.0), "bpo": QueueStats(0, 1)}
        call = routed(self.ROUTE | {"max_wait": 200}, doc=self.DOC, stats=stats)
        assert call.state.variables["desk"] == "local"
        none = routed(self.ROUTE | {"max_queue": 9}, doc=SITE_DOC, stats={"local": QueueStats(3, 0)})
        assert reason(none) == "overflow: 3 waiting at local, estimated wait unknown, kept"


class TestFailover:
    DOC = site_doc(local={"hours": "support", "overflow": {"max_queue": 2, "to": "bpo"}})

    def test_the_first_desk_that_can_take_the_call(self) -> None:
        call = routed({"strategy": "failover", "desks": ["local", "bpo"]}, doc=self.DOC)
        assert reason(call) == "failover: local can take the call"

    def test_closed_and_full_desks_are_passed_over(self) -> None:
        closed = routed({"strategy": "failover", "desks": ["local", "bpo"]}, doc=self.DOC, now=SUNDAY)
        assert reason(closed) == "failover: bpo can take the call (local closed)"
        stats = {"local": QueueStats(2, 1), "bpo": QueueStats(0, 1)}
        full = routed({"strategy": "failover", "desks": ["local", "bpo"]}, doc=self.DOC, stats=stats)
        assert reason(full) == "failover: bpo can take the call (local queue full)"

    def test_when_no_desk_can_the_last_one_gets_the_call(self) -> None:
        call = routed({"strategy": "failover", "desks": ["local"]}, doc=self.DOC, now=SUNDAY)
        assert call.state.variables["desk"] == "local"
        assert reason(call) == "failover: no desk can take the call (local closed) -> local"


class TestDeskOverflowInTheQueue:
    DOC = site_doc(
        local={"overflow": {"max_wait": 90, "max_queue": 3, "to": "bpo"}, "failover": "bpo"},
        bpo={"overflow": {"max_wait": 300, "to": "voicemail"}, "failover": "local"},
        phone={"failover": "local"},
    )

    def test_a_full_queue_sends_the_caller_on_at_once(self) -> None:
        stats = {"local": QueueStats(3, 1), "bpo": QueueStats(0, 1)}
        call = routed({"desk": "local"}, doc=self.DOC, stats=stats)
        assert call.actions == [Enqueue("bpo-desk", wait=WAIT, action=RESULT)]
        assert call.entry("overflow").data == {
            "desk": "local",
            "to": "bpo",
            "reason": "3 waiting >= max_queue 3",
        }
        assert call.result.updates == CallUpdates(
            desk="bpo",
            overflow_from="local",
            queue_result=None,
            queue_time=None,
            queued_at=MONDAY_MORNING,
            route_strategy="fixed",
            **HOW,
        )

    def test_the_desks_max_wait_takes_the_caller_out_of_the_queue_and_to_the_next_desk(self) -> None:
        call = routed({"desk": "local"}, doc=self.DOC, queue={"max_wait": 600})
        call.step("wait", QueuePosition="2", QueueTime="90")
        assert call.actions == [Leave()]
        assert call.entry("queue_timeout").data == {"queue_time": 90, "max_wait": 90, "rule": "overflow"}
        call.step("result", QueueResult="leave", QueueTime="91")
        assert call.actions == [Enqueue("bpo-desk", wait=WAIT, action=RESULT)]
        assert call.entry("overflow").data == {
            "desk": "local",
            "to": "bpo",
            "reason": "waited 91 s, max_wait 90 s",
        }
        assert call.result.updates.overflow_from == "local"
        assert call.result.updates.desk == "bpo"
        assert call.state.variables["desk"] == "bpo"
        call.step("wait", QueuePosition="1", QueueTime="100")  # bpo's own limit is 300 s
        assert call.entries("queue_timeout") == []

    def test_the_nodes_shorter_max_wait_takes_its_timeout_branch(self) -> None:
        call = routed({"desk": "local"}, doc=self.DOC, queue={"max_wait": 60})
        call.step("wait", QueueTime="60")
        assert call.entry("queue_timeout").data["rule"] == "timeout"
        call.step("result", QueueResult="leave", QueueTime="61")
        assert call.actions == [say_en("Sorry for the wait."), Hangup()]

    def test_overflow_to_voicemail_records_a_message_then_hangs_up(self) -> None:
        call = routed({"desk": "bpo"}, doc=self.DOC)
        call.step("result", QueueResult="leave", QueueTime="300")
        prompt, record = call.actions
        assert prompt == say_en(
            "All of our agents are still busy. "
            "Please leave your name, number and a short message after the tone."
        )
        assert record == Record(action=RESULT, max_length=120, transcribe=True)
        assert call.result.updates == CallUpdates(queue_result="leave", queue_time=300)
        call.step(
            "result", RecordingUrl="https://api.twilio.com/R1", RecordingDuration="12", RecordingSid="RE1"
        )
        assert call.actions == [Hangup()]
        url = "https://api.twilio.com/R1"
        assert call.result.updates == CallUpdates(recording_url=url, recording_duration=12)

    def test_overflow_to_a_callback_request(self) -> None:
        doc = site_doc(local={"overflow": {"max_queue": 1, "to": "callback"}})
        call = routed({"desk": "local"}, doc=doc, stats={"local": QueueStats(4, 2)})
        assert call.entry("callback_requested").data == {"desk": "local", "number": CALLER}
        assert call.actions == [
            say_en(
                "All of our agents are busy. "
                "We will call you back at + 1 5 1 2 5 5 5 0 1 1 1 as soon as we can. Goodbye."
            ),
            Hangup(),
        ]
        assert call.result.updates == CallUpdates(
            desk="local", queue_result="leave", route_strategy="fixed", **HOW
        )

    def test_a_full_queue_without_an_overflow_desk_takes_the_failed_branch(self) -> None:
        doc = site_doc(
            local={"overflow": {"max_queue": 1, "to": "bpo"}},
            bpo={"overflow": {"max_queue": 1, "to": "local"}},
        )
        stats = {"local": QueueStats(1, 1), "bpo": QueueStats(1, 1)}
        call = routed({"desk": "local"}, doc=doc, stats=stats)
        assert call.actions == [say_en("No one can take your call."), Hangup()]
        assert [e.data["reason"] for e in call.entries("overflow")] == [
            "1 waiting >= max_queue 1",
            "1 waiting >= max_queue 1; local already had the call",
        ]

    @pytest.mark.parametrize("result", ["queue-full", "error", "system-error"])
    def test_a_failing_queue_fails_over_to_the_desks_failover(self, result: str) -> None:
        call = routed({"desk": "local"}, doc=self.DOC)
        call.step("result", QueueResult=result, QueueTime="0")
        assert call.actions == [Enqueue("bpo-desk", wait=WAIT, action=RESULT)]
        assert call.entry("failover").data == {"desk": "local", "to": "bpo", "reason": f"queue {result}"}
        call.step("result", QueueResult=result, QueueTime="0")  # bpo fails too: local already had the call
        assert call.actions == [say_en("No one can take your call."), Hangup()]
        assert call.entry("failover").data["reason"] == f"queue {result}; local already had the call"

    def test_a_failed_dial_fails_over_to_a_queue(self) -> None:
        call = routed({"desk": "phone"}, doc=self.DOC)
        assert call.actions == [Dial(("+15125550199",), action=RESULT)]
        call.step("result", DialCallStatus="no-answer")
        assert call.actions == [Enqueue("local-desk", wait=WAIT, action=RESULT)]
        assert call.result.updates == CallUpdates(  # the row starts afresh at the local desk
            queue_result=None,
            queue_time=None,
            desk="local",
            overflow_from="phone",
            queued_at=MONDAY_MORNING,
        )
        assert call.entry("dial_result").data["status"] == "no-answer"

    @pytest.mark.parametrize("status", ["completed", "canceled"])
    def test_a_caller_who_hangs_up_while_the_desk_rings_abandoned_it(self, status: str) -> None:
        call = routed({"desk": "phone"}, doc=self.DOC)
        call.step("result", DialCallStatus="no-answer", CallStatus=status)
        assert call.actions == [Hangup()]
        assert call.result.updates == CallUpdates(queue_result="hangup")
        assert call.entries("failover") == []

    def test_a_desk_is_tried_again_when_the_flow_comes_back_to_the_queue(self) -> None:
        nodes = {
            "queue": {"type": "enqueue", "desk": "local", "next": "again", "failed": "no_agents"},
            "again": {
                "type": "menu",
                "prompt": "Press 1 to talk again.",
                "options": {"1": "queue"},
                "timeout": "no_agents",
                "invalid": "no_agents",
            },
            **ENDINGS,
        }
        call = Call(make_site(nodes, site=self.DOC))
        call.step("result", QueueResult="bridged", QueueTime="5")
        call.step("input", Digits="1")
        assert call.actions == [Enqueue("local-desk", wait=WAIT, action=RESULT)]
        call.step("result", QueueResult="queue-full")
        assert call.entry("failover").data["to"] == "bpo"

    def test_an_unknown_current_desk_fails_without_failover(self) -> None:
        call = routed({"desk": "local"}, doc=self.DOC)
        call.result.state.variables["desk"] = "gone"  # a desk removed from a later version of the site
        call.step("result", QueueResult="queue-full")
        assert call.actions == [say_en("No one can take your call."), Hangup()]


class TestMenuPath:
    def test_each_menu_choice_is_added_to_the_path(self) -> None:
        nodes = {
            "first": {
                "type": "menu",
                "prompt": "1 or 2?",
                "options": {"1": "second", "2": "second"},
                "timeout": "bye",
                "invalid": "bye",
            },
            "second": {
                "type": "menu",
                "prompt": "Billing?",
                "options": {"3": {"next": "bye", "speech": ["billing"]}},
                "timeout": "bye",
                "invalid": "bye",
            },
            "bye": hangup("Bye."),
        }
        call = Call(make_site(nodes))
        call.step("input", Digits="2")
        assert call.result.updates == CallUpdates(path="first:2")
        call.step("input", SpeechResult="billing please")
        assert call.state.path == "first:2 > second:3"
        assert call.result.updates == CallUpdates(path="first:2 > second:3")
        assert isinstance(call.actions[0], Gather) is False
