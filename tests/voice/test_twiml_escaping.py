"""The TwiML writer (ivr.voice.twiml): the document twilio's VoiceResponse wrote, for every node of the sample
flows and every action, and hostile prompt text that still parses back to itself."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import pytest
from lxml import etree
from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.engine import CallContext, CallState, Site, load_folder
from ivr.engine.actions import (
    Action,
    Callback,
    Dial,
    DialQueue,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    LineCallback,
    Pause,
    Play,
    Prompt,
    Record,
    Say,
    Target,
)
from ivr.engine.runner import _run, step
from ivr.engine.runtime import Runtime
from ivr.voice.responses import fallback_actions
from ivr.voice.twiml import render

from ..conftest import OPEN, SAMPLE_FLOWS
from ..twilio import one

TRANSCRIBE = "https://ivr.test/voice/transcription"


def url(target: Target) -> str:
    """A readable URL for a callback."""
    if isinstance(target, LineCallback):
        return f"https://ivr.test/voice/agent/{target.step}"
    return f"https://ivr.test/voice/step/{target.flow}/{target.node}/{target.event}"


# --- the reference: the renderer as it was, through twilio's VoiceResponse --------------------------


def _prompt(target: VoiceResponse | GatherVerb, item: Prompt) -> None:
    if isinstance(item, Say):
        target.say(item.text, voice=item.voice, language=item.language)
    elif isinstance(item, Play):
        target.play(item.url)
    else:
        target.pause(length=item.seconds)


def voice_response(
    actions: Iterable[Action], url_for: Callable[[Target], str], transcribe: str | None
) -> str:
    """What ivr answered before it wrote TwiML itself."""
    response = VoiceResponse()
    for action in actions:
        if isinstance(action, Say | Play | Pause):
            _prompt(response, action)
        elif isinstance(action, Gather):
            gather = response.gather(
                action=url_for(action.action),
                method="POST",
                input=action.input,
                timeout=action.timeout,
                num_digits=action.num_digits,
                finish_on_key=action.finish_on_key,
                hints=", ".join(action.hints) or None,
                language=action.language,
                action_on_empty_result=action.report_empty or None,
            )
            for item in action.prompts:
                _prompt(gather, item)
        elif isinstance(action, Enqueue):
            response.enqueue(
                action.queue,
                action=url_for(action.action),
                method="POST",
                wait_url=url_for(action.wait) if action.wait else None,
                wait_url_method="POST" if action.wait else None,
            )
        elif isinstance(action, Dial):
            dial = response.dial(
                action=url_for(action.action),
                method="POST",
                timeout=action.timeout,
                caller_id=action.caller_id,
            )
            for target in action.targets:
                if target.startswith(("sip:", "sips:")):
                    dial.sip(target)
                else:
                    dial.number(target)
        elif isinstance(action, DialQueue):
            dial = response.dial(
                action=url_for(action.action), method="POST", timeout=action.timeout, hangup_on_star=True
            )
            dial.queue(action.queue, url=url_for(action.whisper), method="POST")
        elif isinstance(action, Record):
            response.record(
                action=url_for(action.action),
                method="POST",
                max_length=action.max_length,
                finish_on_key=action.finish_on_key,
                play_beep=True,
                transcribe=action.transcribe or None,
                transcribe_callback=transcribe if action.transcribe else None,
            )
        elif isinstance(action, Leave):
            response.leave()
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)


def _tree(document: str) -> list[tuple[str, dict[str, str], str | None]]:
    """Every element of a document in order: tag, attributes, text."""
    root = etree.fromstring(document.encode())
    return [(el.tag, dict(el.attrib), el.text) for el in root.iter()]


def _same(actions: list[Action]) -> None:
    new, old = render(actions, url, TRANSCRIBE), voice_response(actions, url, TRANSCRIBE)
    assert _tree(new) == _tree(old)
    assert new == old


# --- the same documents ---------------------------------------------------------------------------------


def _sample_documents() -> Iterable[tuple[str, list[Action]]]:
    """The actions of every node of the sample flows, in each language, entered and then timed out and
    answered wrongly (retry prompts), plus the site's fallbacks."""
    bundle, problems = load_folder(SAMPLE_FLOWS)
    assert bundle is not None, problems
    site = Site.from_json(bundle.site, bundle.flows)
    for when in (OPEN, datetime(2026, 11, 25, 3, 0, tzinfo=UTC)):
        ctx = CallContext("CA" + "0" * 32, "+15125550199", "+15125550100", when)
        for flow_name, flow in bundle.flows.items():
            for node in flow["nodes"]:
                for lang in ("en", "es"):
                    state = CallState(flow=flow_name, variables={"lang": lang, "account": "123456"})
                    entered = _run(Runtime(site, state, ctx), node)
                    yield f"{flow_name}.{node}.{lang}", entered.actions
                    for params in ({"Digits": ""}, {"Digits": "9"}, {"QueueResult": "hangup"}):
                        waiting = entered.state
                        if waiting.node is None:
                            continue
                        try:
                            after = step(site, waiting, "input", params, ctx)
                        except Exception:  # noqa: BLE001  (an event this node does not take)
                            continue
                        yield f"{flow_name}.{node}.{lang}.{json.dumps(params)}", after.actions
    for event, params in (
        ("", {}),
        ("wait", {}),
        ("", {"QueueResult": "bridged"}),
        ("", {"QueueResult": "hangup"}),
    ):
        yield f"fallback {event} {params}", fallback_actions(site, event, params)
    yield "fallback without a site", fallback_actions(None)


def test_every_node_of_the_sample_flows_renders_as_voice_response_did():
    documents = list(_sample_documents())
    assert len(documents) > 40
    tags = set()
    for name, actions in documents:
        try:
            _same(actions)
        except AssertionError as error:
            raise AssertionError(name) from error
        tags |= {tag for tag, _attributes, _text in _tree(render(actions, url, TRANSCRIBE))}
    assert {"Say", "Play", "Pause", "Gather", "Enqueue", "Record", "Hangup"} <= tags  # Dial: EVERY_ACTION


EVERY_ACTION: list[Action] = [
    Say("Hello.", voice="Polly.Joanna", language="en-US"),
    Say("Plain."),
    Say(""),
    Play("https://cdn.test/a.mp3"),
    Pause(2),
    Pause(0),
    Gather(
        Callback("main", "menu", "input"),
        (Say("Press 1.", language="en-US"), Pause(1), Play("https://cdn.test/b.mp3")),
        input="dtmf speech",
        timeout=4,
        num_digits=1,
        finish_on_key="#",
        hints=("billing", "support"),
        language="es-US",
    ),
    Gather(LineCallback("key"), (), timeout=0, report_empty=False),
    Enqueue("local-desk", wait=Callback("main", "queue", "wait"), action=Callback("main", "queue", "result")),
    Enqueue("", wait=None, action=Callback("main", "queue", "result")),
    Dial(("+15125550199", "sip:agent@acme.test", "sips:b@acme.test"), Callback("main", "dial", "result")),
    Dial((), Callback("main", "dial", "result"), timeout=0, caller_id="+15125550100"),
    DialQueue("bpo-desk", LineCallback("dialed"), LineCallback("whisper"), timeout=600),
    Record(Callback("main", "vm", "result")),
    Record(Callback("main", "vm", "result"), max_length=30, transcribe=True, finish_on_key=""),
    Leave(),
    Hangup(),
]


@pytest.mark.parametrize("action", EVERY_ACTION, ids=lambda action: type(action).__name__)
def test_every_action_renders_as_voice_response_did(action):
    _same([action])


def test_a_whole_list_and_an_empty_one_render_as_voice_response_did():
    _same(EVERY_ACTION)
    _same([])
    assert render([], url) == '<?xml version="1.0" encoding="UTF-8"?><Response />'


# --- hostile text -----------------------------------------------------------------------------------

HOSTILE = [
    "<Say>injected</Say><Hangup/>",
    "Tom & Jerry &amp; &#60; &lt;",
    "a > b and c < d",
    "end of CDATA ]]> and <![CDATA[ start",
    "\"double\" and 'single' quotes",
    "emoji 😀 🎉, a clef 𝄞 and a flag 🇲🇽 (outside the BMP)",
    "tabs\tand\nnew lines\r\nand carriage returns\r",
    "x" * 100_000,
    "Ünïcödé, 中文, العربية, עברית",
]
NOT_XML = "\x00\x01\x07\x08\x0b\x0c\x0e\x1f\ufffe\uffff\ud800"  # what XML 1.0 forbids


def _doc(actions: list[Action], url_for: Callable[[Target], str] = url) -> etree._Element:
    document = render(actions, url_for, TRANSCRIBE)
    return etree.fromstring(document.encode("utf-8"))  # strict: lxml refuses a document that is not XML


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_parses_back_to_itself_in_every_place(hostile):
    actions: list[Action] = [
        Say(hostile, voice=hostile, language=hostile),
        Gather(
            Callback("main", "menu", "input"), (Say(hostile),), hints=(hostile, "b"), finish_on_key=hostile
        ),
        Play(hostile),
        Enqueue(hostile, wait=None, action=Callback("main", "queue", "result")),
        Dial((hostile, "sip:" + hostile), Callback("main", "dial", "result"), caller_id=hostile),
    ]
    root = _doc(actions)
    assert one(root, "/Response/Say/text()") == hostile
    assert one(root, "/Response/Say/@voice") == hostile  # attributes keep quotes, tabs and new lines
    assert one(root, "/Response/Say/@language") == hostile
    assert one(root, "/Response/Gather/Say/text()") == hostile
    assert one(root, "/Response/Gather/@hints") == f"{hostile}, b"
    assert one(root, "/Response/Gather/@finishOnKey") == hostile
    assert one(root, "/Response/Play/text()") == hostile
    assert one(root, "/Response/Enqueue/text()") == hostile
    assert one(root, "/Response/Dial/Number/text()") == hostile
    assert one(root, "/Response/Dial/Sip/text()") == "sip:" + hostile
    assert one(root, "/Response/Dial/@callerId") == hostile
    assert [el.tag for el in root] == ["Say", "Gather", "Play", "Enqueue", "Dial"]  # nothing injected


def test_callback_urls_with_ampersands_quotes_and_brackets_stay_whole():
    weird = "https://ivr.test/voice/step/a?x=1&y=\"2\"&z='3'<>\t\n#frag"
    root = _doc(
        [
            Gather(Callback("main", "menu", "input"), (Say("Hi"),)),
            Enqueue("q", wait=Callback("main", "queue", "wait"), action=Callback("main", "queue", "result")),
            DialQueue("q", LineCallback("dialed"), LineCallback("whisper"), timeout=5),
            Record(Callback("main", "vm", "result"), transcribe=True),
        ],
        lambda _target: weird,
    )
    for query in ("Gather/@action", "Enqueue/@action", "Enqueue/@waitUrl", "Dial/@action", "Dial/Queue/@url"):
        assert one(root, f"/Response/{query}") == weird
    assert one(root, "/Response/Record/@transcribeCallback") == TRANSCRIBE


def test_characters_xml_forbids_are_left_out_where_voice_response_wrote_a_document_nobody_parses():
    text = f"bell{NOT_XML}ring"
    root = _doc([Say(text, voice=text), Play(f"https://cdn.test/{NOT_XML}a.mp3")])
    assert one(root, "/Response/Say/text()") == "bellring"
    assert one(root, "/Response/Say/@voice") == "bellring"
    assert one(root, "/Response/Play/text()") == "https://cdn.test/a.mp3"
    with pytest.raises(etree.XMLSyntaxError):  # what it was: \x01 written as it is
        etree.fromstring(voice_response([Say("bell\x01ring")], url, None).encode())
    assert one(_doc([Say("\x01\x02")]), "/Response/Say").text is None  # nothing left: an empty <Say />


def test_a_carriage_return_in_text_reaches_twilio_as_itself():
    root = _doc([Say("one\rtwo\r\nthree")])
    assert one(root, "/Response/Say/text()") == "one\rtwo\r\nthree"


def test_a_hostile_prompt_in_a_published_flow_is_answered_as_written(flows_dir, call):
    hostile = 'Tom & Jerry\'s <b>"shop"</b> ]]> 😀'
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["prompt"] = hostile
    path.write_text(json.dumps(flow))
    root = call.start()
    assert one(root, "/Response/Say[1]/text()") == hostile
    assert one(root, "//Gather/@action") == "https://ivr.test/voice/step/main/language/input"
