"""The one renderer: the agent line's actions as TwiML (test_flow and test_safety read the flows')."""

from __future__ import annotations

from lxml import etree

from ivr.engine.actions import Callback, DialQueue, Gather, LineCallback, Say, Target
from ivr.voice.twiml import render


def url(target: Target) -> str:
    """A readable URL for a callback."""
    if isinstance(target, LineCallback):
        return f"https://ivr.test/voice/agent/{target.step}"
    return f"https://ivr.test/voice/step/{target.flow}/{target.node}/{target.event}"


def test_a_dial_on_a_queue_has_the_whisper_and_lets_star_end_the_bridge():
    take = DialQueue("local-desk", LineCallback("dialed"), LineCallback("whisper"), timeout=600)
    root = etree.fromstring(render([take], url).encode())
    (dial,) = root
    assert (dial.tag, dial.get("action"), dial.get("method")) == ("Dial", url(LineCallback("dialed")), "POST")
    assert (dial.get("timeout"), dial.get("hangupOnStar")) == ("600", "true")
    (queue,) = dial
    assert (queue.tag, queue.text, queue.get("method")) == ("Queue", "local-desk", "POST")
    assert queue.get("url") == "https://ivr.test/voice/agent/whisper"


def test_a_gather_posts_empty_input_unless_told_not_to():
    flow = Gather(Callback("main", "menu", "input"), (Say("Press 1."),))
    key = Gather(LineCallback("key"), (Say("Press star."),), timeout=2, num_digits=1, report_empty=False)
    first, second = etree.fromstring(render([flow, key], url).encode())
    assert first.get("action") == "https://ivr.test/voice/step/main/menu/input"
    assert first.get("actionOnEmptyResult") == "true"
    assert second.get("action") == "https://ivr.test/voice/agent/key"
    assert second.get("actionOnEmptyResult") is None and second.get("numDigits") == "1"
