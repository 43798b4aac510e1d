"""The simulator's own rules, against Twilio's TwiML and webhook documentation.

A tiny Flask app answers fixed TwiML per path and records every request it receives, so each test can say
exactly what Twilio (the simulator) must have asked for, with which parameters, and what the caller heard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, Response, request

from ivr.sim import Agents, Caller, CallResult, Input, SimulatedCall, VirtualClock, WsgiTransport
from ivr.sim.call import MAX_REQUESTS

BASE = "http://carrier.test"
START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
XML = '<?xml version="1.0" encoding="UTF-8"?>'
Doc = str | tuple[str, int, str] | Callable[[dict[str, str]], str]


def twiml(inner: str) -> str:
    """A TwiML document with `inner` inside <Response>."""
    return f"{XML}<Response>{inner}</Response>"


@dataclass
class Tiny:
    """A stand-in application: `docs` maps a path to TwiML (the verbs inside <Response>), to a raw
    (body, status, content type) answer, or to a function of the request's form; `received` lists every
    request as (path with query string, form)."""

    docs: dict[str, Doc] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Flask(__name__)
        self.app.add_url_rule("/<path:path>", "answer", self.answer, methods=["POST"])

    def answer(self, path: str) -> Response:
        form = request.form.to_dict()
        self.received.append((request.full_path.rstrip("?"), form))
        doc = self.docs.get(request.path)
        if doc is None:
            return Response(status=204) if request.path == "/voice/status" else Response("no such", 404)
        if callable(doc):
            doc = doc(form)
        if isinstance(doc, tuple):
            body, status, content_type = doc
            return Response(body, status=status, content_type=content_type)
        return Response(twiml(doc), content_type="text/xml; charset=utf-8")

    def run(self, caller: Caller | None = None, agents: Agents | None = None) -> CallResult:
        """Place one simulated call to this app."""
        clock = VirtualClock(START)
        transport = WsgiTransport(self.app, "any-token")
        return SimulatedCall(transport, BASE, "+15125550199", "+15125550100", clock, caller, agents).run()

    def paths(self) -> list[str]:
        """Every path requested, in order."""
        return [path for path, _form in self.received]

    def documents(self) -> list[str]:
        """The paths requested for documents (everything but status callbacks), in order."""
        return [path for path in self.paths() if path != "/voice/status"]

    def posts(self, path: str) -> list[dict[str, str]]:
        """The forms posted to one path (with its query string, if any)."""
        return [form for got, form in self.received if got == path]


@pytest.fixture
def tiny() -> Tiny:
    """A fresh stand-in application."""
    return Tiny()


def said(result: CallResult) -> list[str]:
    """What the application said, in order."""
    return [
        e.what.removeprefix("says: ") for e in result.events if e.what.startswith("says: ") and e.who == "ivr"
    ]


def lines(result: CallResult) -> list[str]:
    """The transcript as 'who: what' lines."""
    return [f"{e.who}: {e.what}" for e in result.events]


def caller(*steps: Input, **kwargs: float) -> Caller:
    """A scripted caller."""
    return Caller.scripted(list(steps), **kwargs)


# -- Gather ------------------------------------------------------------------------------------------


GATHER = '<Gather action="/gathered" timeout="3"{extra}><Say>Press a key.</Say></Gather>'
AFTER_GATHER = "<Say>We did not hear you.</Say><Redirect>/next</Redirect>"


@pytest.mark.parametrize("extra", ["", ' actionOnEmptyResult="false"'])
def test_gather_timeout_falls_through_to_the_next_verb(tiny, extra):
    tiny.docs["/voice/incoming"] = GATHER.format(extra=extra) + AFTER_GATHER
    tiny.docs["/gathered"] = "<Say>Wrong: the action was requested.</Say>"
    tiny.docs["/next"] = "<Say>Next document.</Say><Hangup/>"
    result = tiny.run()
    assert result.ok
    assert tiny.posts("/gathered") == []
    assert tiny.documents() == ["/voice/incoming", "/next"]
    assert said(result) == ["Press a key.", "We did not hear you.", "Next document."]
    silent = next(e for e in result.events if e.what == "stays silent")
    assert silent.at == pytest.approx(0.5 + 3 / 2.5 + 3)  # the prompt, then the Gather's 3 s timeout


def test_gather_with_action_on_empty_result_posts_empty_digits(tiny):
    tiny.docs["/voice/incoming"] = GATHER.format(extra=' actionOnEmptyResult="true"') + AFTER_GATHER
    tiny.docs["/gathered"] = "<Say>Nothing pressed.</Say><Hangup/>"
    result = tiny.run()
    assert result.ok
    posted = tiny.posts("/gathered")
    assert len(posted) == 1 and posted[0]["Digits"] == ""
    assert "SpeechResult" not in posted[0]
    assert said(result) == ["Press a key.", "Nothing pressed."]
    assert "/next" not in tiny.paths()


@pytest.mark.parametrize(
    ("extra", "given", "expected"),
    [
        ("", Input(digits="42"), {"Digits": "42"}),
        ("", Input(digits="42#9"), {"Digits": "42", "FinishedOnKey": "#"}),
        (' numDigits="1"', Input(digits="42"), {"Digits": "4"}),
        (
            ' input="dtmf speech"',
            Input(speech="billing please", confidence=0.75),
            {"SpeechResult": "billing please", "Confidence": "0.75"},
        ),
    ],
)
def test_gather_posts_what_the_caller_did(tiny, extra, given, expected):
    tiny.docs["/voice/incoming"] = GATHER.format(extra=extra) + AFTER_GATHER
    tiny.docs["/gathered"] = "<Hangup/>"
    result = tiny.run(caller(given))
    assert result.ok
    [posted] = tiny.posts("/gathered")
    assert {key: posted.get(key) for key in expected} == expected
    assert posted["CallStatus"] == "in-progress" and posted["CallSid"] == result.call_sid
    assert "We did not hear you." not in said(result)


def test_speech_to_a_keys_only_gather_is_not_heard(tiny):
    tiny.docs["/voice/incoming"] = GATHER.format(extra="") + AFTER_GATHER
    result = tiny.run(caller(Input(speech="billing")))
    assert tiny.posts("/gathered") == []
    assert "We did not hear you." in said(result)


def test_gather_without_action_posts_to_its_own_document(tiny):
    tiny.docs["/menu"] = lambda form: (
        "<Hangup/>" if form.get("Digits") else "<Gather><Say>Menu</Say></Gather>"
    )
    tiny.docs["/voice/incoming"] = "<Redirect>/menu</Redirect>"
    result = tiny.run(caller(Input(digits="7")))
    assert result.ok
    assert [form.get("Digits") for form in tiny.posts("/menu")] == [None, "7"]


# -- URLs and Redirect -------------------------------------------------------------------------------


def test_relative_urls_resolve_against_the_document_url(tiny):
    tiny.docs["/voice/incoming"] = "<Redirect>flows/start?lang=en</Redirect><Say>Not played.</Say>"
    tiny.docs["/voice/flows/start"] = '<Gather action="menu" numDigits="1"><Say>Menu</Say></Gather>'
    tiny.docs["/voice/flows/menu"] = "<Redirect>../done</Redirect>"
    tiny.docs["/voice/done"] = '<Record action="saved" maxLength="30"/>'
    tiny.docs["/voice/saved"] = "<Redirect>/top</Redirect>"
    tiny.docs["/top"] = "<Say>The end.</Say><Hangup/>"
    result = tiny.run(caller(Input(digits="1")))
    assert result.ok, result.error
    assert tiny.documents() == [
        "/voice/incoming",
        "/voice/flows/start?lang=en",
        "/voice/flows/menu",
        "/voice/done",
        "/voice/saved",
        "/top",
    ]
    assert said(result) == ["Menu", "The end."]  # a Redirect ends its document


def test_redirect_is_followed_to_an_absolute_url(tiny):
    tiny.docs["/voice/incoming"] = f"<Say>One.</Say><Redirect>{BASE}/two</Redirect>"
    tiny.docs["/two"] = "<Say>Two.</Say>"  # the end of a document hangs up
    result = tiny.run()
    assert result.ok
    assert said(result) == ["One.", "Two."]
    assert lines(result)[-2:] == ["twilio: end of document: hang up", "twilio: call completed"]
    assert tiny.posts("/two")[0]["CallSid"] == result.call_sid


# -- Enqueue -----------------------------------------------------------------------------------------


ENQUEUE = '<Enqueue waitUrl="wait" action="queue-done">support</Enqueue><Say>After the queue.</Say>'
MUSIC = "<Play>http://music.test/hold.mp3</Play>"  # counts as 30 s


def queue_docs(tiny: Tiny, wait: Doc = MUSIC) -> None:
    tiny.docs["/voice/incoming"] = ENQUEUE
    tiny.docs["/voice/wait"] = wait
    tiny.docs["/voice/queue-done"] = "<Say>Thanks for waiting.</Say><Hangup/>"


def test_enqueue_bridged_after_answer_after(tiny):
    queue_docs(tiny)
    result = tiny.run(agents=Agents(answer_after=70, talk_seconds=100, agent="ana"))
    assert result.ok
    waits = tiny.posts("/voice/wait")
    assert [w["QueueTime"] for w in waits] == ["0", "30", "60"]
    assert all(w["QueuePosition"] == "1" and "CurrentQueueSize" in w and "AvgQueueTime" in w for w in waits)
    [done] = tiny.posts("/voice/queue-done")
    assert (done["QueueResult"], done["QueueTime"]) == ("bridged", "70")
    assert done["QueueSid"].startswith("QU")
    assert "agent: ana answers after 70 s in the queue" in lines(result)
    assert said(result) == ["Thanks for waiting."]  # the action's document, not the verb after Enqueue
    assert result.duration == round(70 + 100 + 0.5 + 3 / 2.5)


def test_enqueue_leave_from_the_wait_document(tiny):
    queue_docs(tiny, wait=lambda form: "<Leave/>" if int(form["QueueTime"]) >= 60 else MUSIC)
    result = tiny.run(agents=Agents(answer_after=None))
    assert result.ok
    assert [w["QueueTime"] for w in tiny.posts("/voice/wait")] == ["0", "30", "60"]
    [done] = tiny.posts("/voice/queue-done")
    assert (done["QueueResult"], done["QueueTime"]) == ("leave", "60")
    assert "twilio: caller leaves the queue after 60 s" in lines(result)
    assert not any(line.startswith("agent:") for line in lines(result))


def test_a_redirect_in_the_wait_document_is_followed(tiny):
    queue_docs(tiny, wait="<Redirect>more-music</Redirect>")
    tiny.docs["/voice/more-music"] = "<Say>Still here.</Say><Leave/>"
    result = tiny.run(agents=Agents(answer_after=None))
    assert result.ok
    assert said(result)[0] == "Still here."
    [done] = tiny.posts("/voice/queue-done")
    assert done["QueueResult"] == "leave"


@pytest.mark.parametrize(
    ("wait", "who", "queue_time"),
    [
        (MUSIC, Caller(patience=45), "45"),  # the caller's patience ends first
        (lambda form: "<Hangup/>" if form["QueueTime"] == "30" else MUSIC, Caller(), "30"),  # the wait doc
    ],
)
def test_enqueue_hangup_ends_the_call(tiny, wait, who, queue_time):
    queue_docs(tiny, wait=wait)
    result = tiny.run(who, Agents(answer_after=None))
    assert result.ok
    [done] = tiny.posts("/voice/queue-done")
    assert (done["QueueResult"], done["QueueTime"], done["CallStatus"]) == ("hangup", queue_time, "completed")
    assert said(result) == []  # the action's answer is ignored: the caller is gone
    assert result.duration == int(queue_time)
    assert tiny.paths()[-1] == "/voice/status"


def test_enqueue_without_wait_url_or_action_continues_with_the_next_verb(tiny):
    tiny.docs["/voice/incoming"] = "<Enqueue>support</Enqueue><Say>After the queue.</Say>"
    result = tiny.run(agents=Agents(answer_after=40, talk_seconds=60))
    assert result.ok
    assert tiny.documents() == ["/voice/incoming"]
    assert said(result) == ["After the queue."]
    assert "agent: agent-1 answers after 40 s in the queue" in lines(result)


def test_enqueue_with_patience_that_is_not_whole_microseconds_still_ends(tiny):
    queue_docs(tiny)
    result = tiny.run(Caller(patience=31.0000001), Agents(answer_after=None))
    assert result.ok
    assert len(tiny.posts("/voice/wait")) <= 3
    assert tiny.posts("/voice/queue-done")[0]["QueueResult"] == "hangup"


# -- Dial and Record ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "duration", "elapsed"),
    [("completed", "95", 8 + 95), ("busy", "0", 8), ("no-answer", "0", 8), ("failed", "0", 8)],
)
def test_dial_action_gets_the_dial_status(tiny, status, duration, elapsed):
    tiny.docs["/voice/incoming"] = '<Dial action="/dialed" timeout="20"><Number>+15125550111</Number></Dial>'
    tiny.docs["/dialed"] = "<Hangup/>"
    result = tiny.run(agents=Agents(dial_status=status, talk_seconds=95, ring_seconds=8))
    assert result.ok
    [dialed] = tiny.posts("/dialed")
    assert (dialed["DialCallStatus"], dialed["DialCallDuration"]) == (status, duration)
    assert dialed["DialCallSid"].startswith("CA") and dialed["DialCallSid"] != result.call_sid
    assert "twilio: dials +15125550111" in lines(result)
    assert result.duration == elapsed


def test_dial_rings_no_longer_than_its_timeout(tiny):
    tiny.docs["/voice/incoming"] = '<Dial action="/dialed" timeout="20">+15125550111</Dial>'
    tiny.docs["/dialed"] = "<Hangup/>"
    result = tiny.run(agents=Agents(dial_status="no-answer", ring_seconds=45))
    assert result.ok and result.duration == 20
    assert tiny.posts("/dialed")[0]["DialCallStatus"] == "no-answer"


@pytest.mark.parametrize(("message", "max_length", "recorded"), [(20, 120, 20), (200, 60, 60)])
def test_record_action_gets_the_recording(tiny, message, max_length, recorded):
    tiny.docs["/voice/incoming"] = (
        f'<Say>Leave a message.</Say><Record action="/recorded" maxLength="{max_length}"/>'
    )
    tiny.docs["/recorded"] = "<Hangup/>"
    result = tiny.run(Caller(message_seconds=message))
    assert result.ok
    [posted] = tiny.posts("/recorded")
    assert posted["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/AC")
    assert posted["RecordingDuration"] == str(recorded)
    assert posted["RecordingSid"].startswith("RE") and posted["RecordingUrl"].endswith(posted["RecordingSid"])
    assert f"caller: leaves a {recorded} s message" in lines(result)


# -- status callbacks --------------------------------------------------------------------------------


def test_status_callbacks_in_order_with_the_virtual_duration(tiny):
    tiny.docs["/voice/incoming"] = '<Pause length="75"/><Hangup/>'
    result = tiny.run()
    assert result.ok and result.duration == 75
    statuses = ["/voice/status"] * 2 + ["/voice/incoming"] + ["/voice/status"] * 2
    assert tiny.paths() == statuses
    assert (
        tiny.posts("/voice/incoming")[0]["CallStatus"] == "ringing"
    )  # Twilio asks for the first document ringing
    initiated, ringing, answered, completed = tiny.posts("/voice/status")
    assert [(form["CallStatus"], form["SequenceNumber"]) for form in (initiated, ringing, answered)] == [
        ("initiated", "0"),
        ("ringing", "1"),
        ("in-progress", "2"),
    ]
    assert (completed["CallStatus"], completed["SequenceNumber"]) == ("completed", "3")
    assert completed["CallDuration"] == "75" and completed["Duration"] == "2"  # billed minutes, rounded up
    assert "CallDuration" not in ringing
    assert ringing["Timestamp"] == START.strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert completed["Timestamp"] == (START + timedelta(seconds=75)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert {form["CallSid"] for _path, form in tiny.received} == {result.call_sid}


def test_a_failing_status_callback_is_a_problem(tiny):
    tiny.docs["/voice/incoming"] = "<Hangup/>"
    tiny.docs["/voice/status"] = ("oops", 500, "text/plain")
    result = tiny.run()
    assert result.error is None
    assert result.status_problems == [
        f"status callback {status!r} answered HTTP 500"
        for status in ("initiated", "ringing", "in-progress", "completed")
    ]
    assert not result.ok


# -- errors ------------------------------------------------------------------------------------------


def raw(body: str, status: int = 200, content_type: str = "text/xml") -> tuple[str, int, str]:
    return body, status, content_type


@pytest.mark.parametrize(
    ("incoming", "wait", "code"),
    [
        pytest.param(raw(twiml("<Say>Tom & Jerry</Say>")), None, 12100, id="unescaped-ampersand"),
        pytest.param(raw(twiml("<Say>unclosed")), None, 12100, id="unclosed-element"),
        pytest.param(raw(f"{XML}<Reply><Say>Hi</Say></Reply>"), None, 12100, id="root-not-response"),
        pytest.param(raw("\n" + twiml("<Say>Hi</Say>")), None, 12100, id="whitespace-before-declaration"),
        pytest.param(ENQUEUE, "<Enqueue>other</Enqueue>", 12200, id="enqueue-in-wait-url"),
        pytest.param(ENQUEUE, "<Dial>+15125550111</Dial>", 12200, id="dial-in-wait-url"),
        pytest.param(ENQUEUE, "<Record/>", 12200, id="record-in-wait-url"),
        pytest.param("<Speak>Hi</Speak>", None, 12200, id="unknown-verb"),
        pytest.param("<Gather><Dial>+15125550111</Dial></Gather>", None, 12200, id="dial-inside-gather"),
        pytest.param(raw("boom", 500, "text/html"), None, 11200, id="http-500"),
        pytest.param(ENQUEUE, raw("gone", 404, "text/plain"), 11200, id="wait-url-404"),
        pytest.param(raw('{"say": "hi"}', content_type="application/json"), None, 12300, id="json"),
    ],
)
def test_errors_twilio_would_report(tiny, incoming, wait, code):
    tiny.docs["/voice/incoming"] = incoming
    if wait is not None:
        tiny.docs["/voice/wait"] = wait
    result = tiny.run(agents=Agents(answer_after=90))
    assert not result.ok
    assert result.error is not None and result.error.code == code
    transcript = lines(result)
    assert f"twilio: error {code}: {result.error.message}" in transcript
    assert transcript[-2:] == [
        "twilio: says: An application error has occurred. Goodbye.",
        "twilio: call completed",
    ]
    assert tiny.paths()[-1] == "/voice/status"
    assert tiny.posts("/voice/status")[-1]["CallStatus"] == "completed"
    assert not any(line.startswith("agent:") for line in transcript)


def test_error_in_a_later_document_keeps_what_came_before(tiny):
    tiny.docs["/voice/incoming"] = GATHER.format(extra="") + AFTER_GATHER
    tiny.docs["/gathered"] = raw("Internal Server Error", 500, "text/html")
    result = tiny.run(caller(Input(digits="5")))
    assert result.error is not None and result.error.code == 11200 and not result.ok
    assert said(result) == ["Press a key."]
    assert "caller: presses 5" in lines(result)


def test_a_looping_flow_is_stopped_with_an_error(tiny):
    tiny.docs["/voice/incoming"] = "<Pause/><Redirect>/voice/incoming</Redirect>"
    result = tiny.run()
    assert not result.ok
    assert result.error is not None and result.error.code == 11200
    assert f"more than {MAX_REQUESTS} requests" in result.error.message
    assert len(tiny.posts("/voice/incoming")) == MAX_REQUESTS
    statuses = [form["CallStatus"] for form in tiny.posts("/voice/status")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]  # it still ends with its callback
    assert result.duration == MAX_REQUESTS  # one second of Pause per document


def test_a_long_wait_is_not_mistaken_for_a_loop(tiny):
    """Twilio re-requests the wait URL for as long as the caller waits: polls are bounded by time only."""
    queue_docs(tiny, wait="<Pause/>")
    result = tiny.run(Caller(patience=1_000), Agents(answer_after=None))
    assert result.ok, result.error
    assert len(tiny.posts("/voice/wait")) == 1_000  # one second of Pause per poll
    [done] = tiny.posts("/voice/queue-done")
    assert (done["QueueResult"], done["QueueTime"]) == ("hangup", "1000")


def test_html_content_type_is_read_as_twiml(tiny):
    tiny.docs["/voice/incoming"] = raw(twiml("<Say>Hi</Say>"), content_type="text/html")
    result = tiny.run()
    assert result.ok and said(result) == ["Hi"]


def test_a_document_reads_the_same_each_time_and_its_errors_are_reported_each_time():
    """Documents are parsed once and their verbs shared; a rejected one is rejected on every read."""
    from ivr.sim.document import VERBS, WAIT_VERBS, TwimlError, read
    from ivr.sim.transport import Reply

    body = twiml('<Gather action="/next"><Say>Hi</Say></Gather><Enqueue>desk</Enqueue>').encode()
    reply = Reply(200, "text/xml", body)
    first, again = read(reply), read(reply)
    assert first == again and first is not again
    assert [verb.name for verb in first] == ["Gather", "Enqueue"]
    assert first[0].url("action", "http://carrier.test/voice/a") == "http://carrier.test/next"
    for allowed in (
        WAIT_VERBS,
        {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"},
        WAIT_VERBS,
    ):
        with pytest.raises(
            TwimlError
        ) as rejected:  # the same document, fewer verbs allowed: never the cached
            read(reply, allowed)
        assert rejected.value.code == 12200
    assert read(reply, VERBS) == first
    broken = Reply(200, "text/xml", b"<Response><Say>")
    for _ in range(2):
        with pytest.raises(TwimlError) as failed:
            read(broken)
        assert failed.value.code == 12100
