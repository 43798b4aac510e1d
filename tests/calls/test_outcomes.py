"""Each call's outcome, computed in SQL from calls driven through the webhooks, and the outcome filter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from ivr.calls.query import CallFilters, call_dict, page_of_calls

from ..campaign_helpers import attempt, contacts, load, new_campaign
from ..conftest import CLOSED
from ..twilio import CallDriver, TwilioClient, new_sid


def finish(twilio: TwilioClient, call: CallDriver, duration: int = 60, **extra: str) -> None:
    """Twilio's last status callback: the call completed."""
    twilio.status(call.sid, "completed", 9, CallDuration=str(duration), **extra)


def queued(twilio: TwilioClient, caller: str = "+15125550111") -> tuple[CallDriver, Any]:
    """A caller in the local desk's queue (technical support)."""
    call = CallDriver(twilio, caller=caller)
    return call, call.press(call.press(call.start(), "1"), "2")


def outcomes(session: Session, **args: str) -> dict[str, str | None]:
    """Every call matching the arguments, by CallSid, with its outcome."""
    page = page_of_calls(session, CallFilters.from_args({"legs": "all", "per_page": "500"} | args))
    return {c.call_sid: c.outcome for c in page.calls}


def test_answered_and_abandoned_are_settled_when_the_caller_leaves_the_queue(twilio, session):
    """As the reports count them: before Twilio's final status callback arrives (or if it is lost)."""
    answered, queue = queued(twilio)
    answered.post(queue.xpath("//Enqueue/@action")[0], QueueResult="bridged", QueueTime="42")
    abandoned, queue = queued(twilio, "+15125550119")
    abandoned.post(queue.xpath("//Enqueue/@action")[0], QueueResult="hangup", QueueTime="75")
    waiting, _ = queued(twilio, "+15125550118")
    found = outcomes(session)
    assert (found[answered.sid], found[abandoned.sid], found[waiting.sid]) == (
        "answered", "abandoned", "in_progress"
    )  # fmt: skip


def test_inbound_outcomes(app, twilio, session):
    expected: dict[str, str] = {}

    call, queue = queued(twilio)
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="bridged", QueueTime="42")
    finish(twilio, call)
    expected[call.sid] = "answered"

    call, queue = queued(twilio)
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="hangup", QueueTime="75")
    finish(twilio, call)
    expected[call.sid] = "abandoned"

    # local overflows to the BPO after 250 s; the BPO's 700 s passes the node's max_wait: its voicemail
    call, queue = queued(twilio)
    moved = call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="250")
    record = call.post(moved.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="700")
    call.post(
        record.xpath("//Record/@action")[0],
        RecordingUrl="https://api.twilio.com/rec/RE1",
        RecordingDuration="9",
    )
    finish(twilio, call)
    expected[call.sid] = "voicemail"

    call, queue = queued(twilio)  # the same, but the caller hangs up at the voicemail's tone
    moved = call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="250")
    call.post(moved.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="700")
    finish(twilio, call)
    expected[call.sid] = "overflowed"

    call = CallDriver(twilio, caller="+15125550112")
    call.start()  # hangs up at the language menu
    finish(twilio, call, 8)
    expected[call.sid] = "ivr_only"

    call = CallDriver(twilio, caller="+15125550113")
    call.start()  # still listening
    expected[call.sid] = "in_progress"

    app.config["IVR_CLOCK"] = lambda: CLOSED
    for recorded in (True, False):
        call = CallDriver(twilio, caller="+15125550114")
        record = call.start()
        if recorded:
            action = record.xpath("//Record/@action")[0]
            call.post(action, RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="20")
        finish(twilio, call)
        expected[call.sid] = "after_hours"  # a message left after hours is after hours too

    assert outcomes(session) == expected
    for name in sorted(set(expected.values())):
        assert set(outcomes(session, outcome=name)) == {
            sid for sid, found in expected.items() if found == name
        }
    both = outcomes(session, outcome="answered,abandoned")
    assert sorted(both.values()) == ["abandoned", "answered"]


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        ("completed", "human", "outbound_person"),
        ("completed", "machine_end_beep", "outbound_machine"),
        ("no-answer", None, "outbound_no_answer"),
        ("busy", None, "outbound_busy"),
        ("failed", None, "outbound_failed"),
    ],
)
def test_outbound_outcomes(app, twilio, session, status, answered_by, outcome):
    campaign = new_campaign(app, session)
    load(session, campaign, "phone\n+15125550160\n")
    made = attempt(session, campaign, contacts(session, campaign)["+15125550160"], "ringing")
    extra = {"AnsweredBy": answered_by} if answered_by else {}
    params = twilio.call_params(
        made.call_sid, "+15125550100", "+15125550160", status, Direction="outbound-api", SequenceNumber="5",
        CallDuration="30", **extra,
    )  # fmt: skip
    assert twilio.post(f"/voice/status?attempt={made.id}", params).status_code == 204
    assert outcomes(session) == {made.call_sid: outcome}
    assert outcomes(session, legs="outbound") == {made.call_sid: outcome}
    assert outcomes(session, legs="callers") == {made.call_sid: outcome}  # a callee is a person called


def test_an_agent_leg_has_no_outcome_and_is_not_a_caller(twilio, session):
    sid = new_sid()
    agent = CallDriver(twilio, sid=sid, caller="+17375550101", called="+15125550199")  # the agent line
    agent.start()
    twilio.status(sid, "completed", 3, CallDuration="10")
    assert outcomes(session) == {sid: None}
    assert outcomes(session, legs="callers") == {}
    assert outcomes(session, legs="agents") == {sid: None}


def test_outcome_in_the_api_shape(twilio, session):
    call, queue = queued(twilio)
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="bridged", QueueTime="42")
    finish(twilio, call)
    row = page_of_calls(session, CallFilters()).calls[0]
    assert call_dict(row, {})["outcome"] == "answered"
