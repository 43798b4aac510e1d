"""TwiML answers: rendering engine actions, and the apology-and-fallback used when a step fails."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, current_app, request, url_for

from ..engine import Action, Callback, Site
from ..engine.actions import (
    ANSWERED_DIAL,
    BRIDGED,
    Dial,
    Enqueue,
    Hangup,
    LineCallback,
    Play,
    Record,
    Say,
    Target,
)
from ..engine.nodes import HOLD_MUSIC
from .twiml import render

APOLOGY = "We are sorry, we cannot take your call right now. Please try again later. Goodbye."
GOODBYE = "Thank you for calling. Goodbye."


URLS = "ivr.voice.urls"  # app.extensions: absolute URLs built so far (a flow has few callbacks)
MAX_URLS = 4096


def absolute(endpoint: str, **values: Any) -> str:
    """An absolute URL for a voice endpoint, on PUBLIC_BASE_URL when it is set.

    Remembered per app by everything that goes into it (Werkzeug's URL building is most of a callback's
    cost): the base, SERVER_NAME, the request's scheme, host and path prefix, the endpoint and its values.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    req = request._get_current_object()  # type: ignore[attr-defined]
    base = str(app.config["PUBLIC_BASE_URL"])
    key = (base, app.config["SERVER_NAME"], req.scheme, req.host, req.script_root, endpoint, *values.items())
    urls: dict[tuple[object, ...], str] = app.extensions.setdefault(URLS, {})
    found = urls.get(key)
    if found is None:
        if base:  # the public URL already holds any path prefix, as in the signature check
            found = base + url_for(endpoint, **values).removeprefix(req.script_root)
        else:
            found = str(url_for(endpoint, _external=True, **values))
        if len(urls) >= MAX_URLS:
            urls.clear()
        urls[key] = found
    return found


def callback_url(callback: Target) -> str:
    """The URL of a step callback: a flow's step, or one of the agent line's."""
    if isinstance(callback, LineCallback):
        return absolute(f"voice.agent.{callback.step}")
    return absolute("voice.flow.step", flow=callback.flow, node=callback.node, event=callback.event)


def twiml(actions: Iterable[Action]) -> Response:
    """A text/xml response for these actions."""
    actions = list(actions)
    transcribe = any(isinstance(action, Record) and action.transcribe for action in actions)
    xml = render(actions, callback_url, absolute("voice.flow.transcription") if transcribe else None)
    return Response(xml, status=200, content_type="text/xml; charset=utf-8")


def fallback_actions(
    site: Site | None, event: str = "", params: Mapping[str, str] | None = None
) -> list[Action]:
    """What a failed step answers, fitting where the caller is.

    In a queue's wait loop (where Twilio allows only prompts): hold music, so the caller keeps their place.
    After an agent or a dialled party already talked to the caller: goodbye. Otherwise an apology and the
    site's fallback (a desk, a number or voicemail); without a site, an apology and goodbye.
    """
    params = params or {}
    if event == "wait":
        return [Play(HOLD_MUSIC)]
    if params.get("QueueResult") in BRIDGED or params.get("DialCallStatus") in ANSWERED_DIAL:
        return [Say(GOODBYE), Hangup()]
    if params.get("QueueResult") == "hangup":
        return [Hangup()]
    if site is None:
        return [Say(APOLOGY), Hangup()]
    spec: Mapping[str, Any] = site.fallback
    done = Callback("_fallback", "_fallback", "result")
    actions: list[Action] = [Say(spec["prompt"], voice=spec.get("voice"), language=spec.get("language"))]
    desk = site.desks.get(spec.get("desk", ""))
    if desk is not None and desk.queue:
        actions.append(Enqueue(desk.queue, wait=None, action=done))
    elif desk is not None or "dial" in spec:
        actions.append(Dial((desk.dial if desk is not None else spec["dial"],), action=done))  # type: ignore[arg-type]
    elif spec.get("voicemail"):
        actions.append(Record(action=done))
    actions.append(Hangup())
    return actions


def fallback_twiml(site: Site | None, event: str = "", params: Mapping[str, str] | None = None) -> Response:
    """The fallback answer as TwiML; every callback of it goes to the fallback's end point."""
    xml = render(fallback_actions(site, event, params), lambda _cb: absolute("voice.flow.fallback_done"))
    return Response(xml, status=200, content_type="text/xml; charset=utf-8")
