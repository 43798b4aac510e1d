"""Actions to TwiML: the only place that builds XML, written directly (twilio's VoiceResponse builds an
ElementTree and serialises it, most of the cost of an answer), the same document byte for byte."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from ..engine.actions import (
    Action,
    Dial,
    DialQueue,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Pause,
    Play,
    Prompt,
    Record,
    Say,
    Target,
)

# VoiceResponse's document: its attribute names in its sorted order, "true"/"false" for booleans, no attribute
# for None, no text for an empty one, `<Verb />` for an empty element, values escaped as ElementTree escapes
# them (tests/voice/test_twiml_escaping.py compares the two on every node of the sample flows). Two things
# differ, for text VoiceResponse turned into a broken or altered document: characters XML 1.0 forbids (control
# characters other than tab, new line and carriage return; lone surrogates; U+FFFE, U+FFFF) are left out,
# where VoiceResponse wrote them as they were (a document no parser, Twilio's included, accepts); and a
# carriage return in text is written &#13;, so that it reaches Twilio as itself and not as a new line.
UrlFor = Callable[[Target], str]
Attribute = tuple[str, str | int | bool | None]
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@lru_cache(maxsize=4096)  # a flow's prompts and URLs recur on every call
def text(value: str) -> str:
    """Character data: without what XML 1.0 forbids, with & < > (and a carriage return) escaped."""
    value = NOT_XML.sub("", value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


@lru_cache(maxsize=4096)
def attribute(value: str) -> str:
    """An attribute value for double quotes: as text(), with " and the whitespace that parsers normalise."""
    value = text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#09;")
    return value


def element(tag: str, attributes: Iterable[Attribute] = (), content: str = "") -> str:
    """One element: `attributes` in the order given (None left out), `content` already escaped."""
    written = "".join(
        f' {name}="{"true" if value else "false"}"'
        if isinstance(value, bool)
        else f' {name}="{attribute(str(value))}"'
        for name, value in attributes
        if value is not None
    )
    return f"<{tag}{written}>{content}</{tag}>" if content else f"<{tag}{written} />"


def _prompt(item: Prompt) -> str:
    if isinstance(item, Say):
        return element("Say", (("language", item.language), ("voice", item.voice)), text(item.text))
    if isinstance(item, Play):
        return element("Play", (), text(item.url))
    return element("Pause", (("length", item.seconds),))


def _dial_target(target: str) -> str:
    return element("Sip" if target.startswith(("sip:", "sips:")) else "Number", (), text(target))


def _verb(action: Action, url_for: UrlFor, transcribe_url: str | None) -> str:
    """One action's element; attributes in the order VoiceResponse sorts them in."""
    if isinstance(action, Say | Play | Pause):
        return _prompt(action)
    if isinstance(action, Gather):
        attributes: tuple[Attribute, ...] = (
            ("action", url_for(action.action)),
            ("actionOnEmptyResult", action.report_empty or None),
            ("finishOnKey", action.finish_on_key),
            ("hints", ", ".join(action.hints) or None),
            ("input", action.input),
            ("language", action.language),
            ("method", "POST"),
            ("numDigits", action.num_digits),
            ("timeout", action.timeout),
        )
        return element("Gather", attributes, "".join(_prompt(item) for item in action.prompts))
    if isinstance(action, Enqueue):
        wait = url_for(action.wait) if action.wait else None
        attributes = (
            ("action", url_for(action.action)),
            ("method", "POST"),
            ("waitUrl", wait),
            ("waitUrlMethod", "POST" if wait else None),
        )
        return element("Enqueue", attributes, text(action.queue))
    if isinstance(action, Dial):
        attributes = (
            ("action", url_for(action.action)),
            ("callerId", action.caller_id),
            ("method", "POST"),
            ("timeout", action.timeout),
        )
        return element("Dial", attributes, "".join(_dial_target(target) for target in action.targets))
    if isinstance(action, DialQueue):
        queue = element("Queue", (("method", "POST"), ("url", url_for(action.whisper))), text(action.queue))
        attributes = (
            ("action", url_for(action.action)),
            ("hangupOnStar", True),
            ("method", "POST"),
            ("timeout", action.timeout),
        )
        return element("Dial", attributes, queue)
    if isinstance(action, Record):
        attributes = (
            ("action", url_for(action.action)),
            ("finishOnKey", action.finish_on_key),
            ("maxLength", action.max_length),
            ("method", "POST"),
            ("playBeep", True),
            ("transcribe", action.transcribe or None),
            ("transcribeCallback", transcribe_url if action.transcribe else None),
        )
        return element("Record", attributes)
    if isinstance(action, Leave):
        return "<Leave />"
    if isinstance(action, Hangup):
        return "<Hangup />"
    return ""


def render(actions: Iterable[Action], url_for: UrlFor, transcribe_url: str | None = None) -> str:
    """The TwiML document for a list of actions; callbacks become absolute URLs via `url_for`."""
    return DECLARATION + element("Response", (), "".join(_verb(a, url_for, transcribe_url) for a in actions))
