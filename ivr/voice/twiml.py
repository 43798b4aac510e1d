"""Actions to TwiML: the only place that builds XML, always through twilio's VoiceResponse."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

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

UrlFor = Callable[[Target], str]


def _prompt(target: VoiceResponse | GatherVerb, item: Prompt) -> None:
    if isinstance(item, Say):
        target.say(item.text, voice=item.voice, language=item.language)
    elif isinstance(item, Play):
        target.play(item.url)
    else:
        target.pause(length=item.seconds)


def _sip_or_number(dial: object, target: str) -> None:
    if target.startswith(("sip:", "sips:")):
        dial.sip(target)  # type: ignore[attr-defined]
    else:
        dial.number(target)  # type: ignore[attr-defined]


def render(actions: Iterable[Action], url_for: UrlFor, transcribe_url: str | None = None) -> str:
    """The TwiML document for a list of actions; callbacks become absolute URLs via `url_for`."""
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
                _sip_or_number(dial, target)
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
                transcribe_callback=transcribe_url if action.transcribe else None,
            )
        elif isinstance(action, Leave):
            response.leave()
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)
