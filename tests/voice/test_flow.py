"""Whole calls through the webhooks on the sample site: TwiML checked with XPath, the log read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import CLOSED, HOLIDAY
from ..helpers import call_row, event_kinds, events
from ..twilio import one, xpath

BASE = "https://ivr.test"


def test_incoming_greets_and_offers_languages(call, session):
    root = call.start()
    assert one(root, "/Response/Say[1]/text()").startswith("Thank you for calling Acme Home Supplies")
    gather = one(root, "/Response/Gather")
    assert gather.get("action") == f"{BASE}/voice/step/main/language/input"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("input") == "dtmf speech"
    assert gather.get("numDigits") == "1"
    spanish = one(gather, "Say[contains(., 'español')]")
    assert spanish.get("language") == "es-US" and spanish.get("voice") == "Polly.Lupe"
    row = call_row(session, call.sid)
    assert (row.flow, row.node, row.status, row.direction) == ("main", "language", "ringing", "inbound")
    assert row.site_version_id is not None
    assert event_kinds(session, call.sid)[:5] == ["flow_started", "node", "prompt", "node", "hours"]
    assert events(session, call.sid, "hours")[0].data == {"schedule": "support", "result": "open"}


def sample_node(flows_dir: Path, name: str) -> dict[str, Any]:
    """A node of the sample's main flow, as written."""
    return dict(json.loads((flows_dir / "main.json").read_text("utf-8"))["nodes"][name])


def test_spanish_billing_call_reaches_bpo_queue_then_survey(call, session, flows_dir):
    root = call.press(call.start(), "2")
    menu = one(root, "/Response/Gather")
    assert menu.get("action").endswith("/voice/step/main/main_menu/input")
    assert one(menu, "Say/@language") == "es-US"
    assert "facturación" in one(menu, "Say/text()")

    root = call.press(root, "1")
    enqueue = one(root, "/Response/Enqueue")
    assert enqueue.text == "bpo-desk"
    assert enqueue.get("waitUrl") == f"{BASE}/voice/step/main/queue/wait"
    assert enqueue.get("action") == f"{BASE}/voice/step/main/queue/result"
    assert call_row(session, call.sid).desk == "bpo"
    reasons = [e.data for e in events(session, call.sid, "route")]
    path = "language:2 > main_menu:1"
    # billing: the caller's half of the split; then Spanish: the BPO's Spanish speakers (the sample flow's
    # routes may name their segment, else it is the menu path)
    labels = [sample_node(flows_dir, n).get("segment", path) for n in ("to_billing", "spanish_desk")]
    billing, spanish = labels
    assert reasons == [
        {
            "desk": "bpo",
            "strategy": "sticky",
            "reason": "sticky split (local 1, bpo 1): caller hash 0.775 -> bpo",
            "assignment": "split",
            "segment": billing,
        },
        {"desk": "bpo", "strategy": "fixed", "reason": "fixed desk", "assignment": "directed"}
        | {"segment": spanish},
    ]
    row = call_row(session, call.sid)
    assert (row.route_strategy, row.assignment, row.segment, row.path) == ("fixed", "directed", spanish, path)

    hold = call.post(enqueue.get("waitUrl"), QueuePosition="3", QueueTime="20", CurrentQueueSize="3")
    assert one(hold, "/Response/Say[1]/text()") == "Usted es la persona número 3 en la fila."
    assert xpath(hold, "/Response/Play")
    assert not xpath(hold, "//Enqueue | //Dial | //Gather")

    survey = call.post(enqueue.get("action"), QueueResult="bridged", QueueTime="42", QueueSid="QU1")
    gather = one(survey, "/Response/Gather")
    assert gather.get("action").endswith("/voice/step/main/survey/input")
    root = call.press(survey, "4")
    assert "Gracias por su opinión" in one(root, "/Response/Say/text()")
    assert xpath(root, "/Response/Hangup")

    row = call_row(session, call.sid)
    assert (row.desk, row.queue_result, row.queue_time, row.survey_score) == ("bpo", "bridged", 42, 4)
    assert row.variables["lang"] == "es"


def test_order_status_reads_back_account_and_validates_pattern(call, session):
    menu = call.press(call.start(), "1")
    ask = call.press(menu, "3")
    gather = one(ask, "/Response/Gather")
    assert gather.get("finishOnKey") == "#"
    again = call.press(ask, "12")
    assert "not valid" in one(again, "/Response/Gather/Say[1]/text()")
    done = call.press(again, "12345678")
    assert (
        one(done, "/Response/Say[1]/text()")
        == "Thank you. Account 1 2 3 4 5 6 7 8. Connecting you to our orders team."
    )
    assert one(done, "/Response/Enqueue/text()") == "bpo-desk"
    row = call_row(session, call.sid)
    assert row.variables["account"] == "12345678"
    assert [e.data.get("reason") for e in events(session, call.sid, "retry")] == ["invalid"]


def test_business_account_goes_to_local_desk(call):
    ask = call.press(call.press(call.start(), "1"), "3")
    assert one(call.press(ask, "900123"), "/Response/Enqueue/text()") == "local-desk"


def test_menu_silence_retries_then_goes_to_operator(call, session):
    menu = call.press(call.start(), "1")
    first = call.press(menu, "")
    assert one(first, "/Response/Gather/Say[1]/text()") == "Sorry, I didn't catch that."
    second = call.press(first, "7")
    assert xpath(second, "/Response/Gather")
    third = call.press(second, "")
    assert one(third, "/Response/Enqueue/text()") == "local-desk"
    assert [e.data["reason"] for e in events(session, call.sid, "retry")] == ["timeout", "invalid"]
    assert events(session, call.sid, "no_input")[0].node == "main_menu"


def test_speech_picks_an_option(call, session):
    menu = call.press(call.start(), "1")
    root = call.say(menu, "I have a question about my bill, please.")
    assert one(root, "/Response/Enqueue/text()") == "bpo-desk"
    heard = [e.data for e in events(session, call.sid, "input") if "speech" in e.data]
    assert heard == [{"speech": "I have a question about my bill, please.", "confidence": "0.92"}]


def test_long_wait_overflows_to_the_other_desk_then_leaves_for_voicemail(call, session):
    queue = call.press(call.press(call.start(), "1"), "2")
    enqueue = one(queue, "/Response/Enqueue")
    assert enqueue.text == "local-desk"
    # The local desk's overflow rule (site.json: max_wait 240 s, then bpo) comes before the node's 600 s.
    hold = call.post(enqueue.get("waitUrl"), QueuePosition="1", QueueTime="240")
    assert xpath(hold, "/Response/Leave") and not xpath(hold, "//Play")
    moved = call.post(enqueue.get("action"), QueueResult="leave", QueueTime="241")
    assert one(moved, "/Response/Enqueue").text == "bpo-desk"
    row = call_row(session, call.sid)
    assert (row.desk, row.overflow_from, row.queue_result) == ("bpo", "local", None)  # now waiting at the BPO
    hold = call.post(one(moved, "/Response/Enqueue/@waitUrl"), QueuePosition="1", QueueTime="600")
    assert xpath(hold, "/Response/Leave")
    voicemail = call.post(one(moved, "/Response/Enqueue/@action"), QueueResult="leave", QueueTime="601")
    record = one(voicemail, "/Response/Record")
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == f"{BASE}/voice/transcription"
    assert record.get("maxLength") == "120"
    done = call.post(
        record.get("action"), RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="17"
    )
    assert xpath(done, "/Response/Hangup")
    call.twilio.post(
        "/voice/transcription",
        call.params(TranscriptionText="Please call me back", TranscriptionStatus="completed"),
    )
    row = call_row(session, call.sid)
    assert (row.desk, row.overflow_from, row.queue_result, row.queue_time) == ("bpo", "local", "leave", 601)
    assert (row.recording_url, row.recording_duration) == ("https://api.twilio.com/rec/RE1", 17)
    assert row.transcription == "Please call me back"
    assert [e.data["reason"] for e in events(session, call.sid, "overflow")] == [
        "waited 241 s, max_wait 240 s"
    ]


@pytest.mark.parametrize(
    ("result", "verb"), [("hangup", "Hangup"), ("queue-full", "Enqueue"), ("error", "Enqueue")]
)
def test_queue_results_branch(call, session, result, verb):
    queue = call.press(call.press(call.start(), "1"), "2")
    root = call.post(one(queue, "/Response/Enqueue/@action"), QueueResult=result, QueueTime="5")
    assert xpath(root, f"/Response/{verb}")
    row = call_row(session, call.sid)
    assert [e.data["result"] for e in events(session, call.sid, "queue_left")] == [result]
    if verb == "Hangup":
        assert row.queue_result == "hangup"
    else:  # the local desk fails over to the BPO (site.json), which fails back to voicemail
        assert (one(root, "/Response/Enqueue").text, row.desk, row.overflow_from) == (
            "bpo-desk",
            "bpo",
            "local",
        )
        assert row.queue_result is None  # waiting at the BPO now
        again = call.post(one(root, "/Response/Enqueue/@action"), QueueResult=result, QueueTime="1")
        assert xpath(again, "/Response/Record")
        assert call_row(session, call.sid).queue_result == result


@pytest.mark.parametrize(
    ("clock", "node", "words"),
    [
        (CLOSED, "after_hours", "Monday to Friday"),
        (HOLIDAY, "holiday_closed", "closed today for the holiday"),
    ],
)
def test_closed_times_go_to_voicemail(app, call, clock, node, words):
    app.config["IVR_CLOCK"] = lambda: clock
    root = call.start()
    assert any(words in text for text in xpath(root, "/Response/Say/text()"))
    assert one(root, "/Response/Record/@action") == f"{BASE}/voice/step/main/{node}/result"
