"""The in-process transport: Twilio's signature, and the request the app sees as a server would build it."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from flask import Flask, jsonify, request
from twilio.request_validator import RequestValidator

from ivr.sim import Caller, Input, SimulatedCall, VirtualClock, WsgiTransport
from ivr.sim.transport import Signer
from ivr.voice.security import URL_SAFE

from ..conftest import AUTH_TOKEN, OPEN

TRICKY = [
    {},
    {"Digits": ""},
    {"b": "2", "B": "1", "a": "3", "_": "x", "a1": "", "A": "é"},
    {"SpeechResult": "¿Dónde está mi pedido? 100% & más = +1 / 2", "Confidence": "0.90"},
    {"From": "+15125550199", "To": "client:ana", "Caller": "sip:ana@example.com;transport=tls"},
    {"Text": "line\nbreak\ttab \u2028 emoji \U0001f600 nul-free \\ quote \" '", "Key With Space": "v"},
]
URLS = [
    "https://ivr.test/voice/incoming",
    "http://ivr.simulator:8080/voice/flow/menu/step?n=2&x=a%20b",
    "https://example.com/voice/wait?lang=es&q=a%2Fb",
]


@pytest.mark.parametrize("params", TRICKY)
@pytest.mark.parametrize(
    "url", [*URLS, "https://example.com/voice/wait?lang=es&q=%C3%A9", "http://ivr.test/é"]
)
def test_the_signature_is_twilios(url, params):
    """The simulator signs exactly as twilio's RequestValidator computes the signature."""
    for token in (AUTH_TOKEN, "tøken-ünicode"):
        assert Signer(token).signature(url, params) == RequestValidator(token).compute_signature(url, params)


def _echo() -> Flask:
    """An app that checks the signature with twilio's validator and echoes what it was sent.

    The URL is rebuilt from the raw path and query string, as a server receives them (ivr's signed_url).
    """
    app = Flask("echo")

    @app.post("/<path:path>")
    def echo(path: str):
        signature = request.headers.get("X-Twilio-Signature", "")
        query = request.query_string.decode("latin-1")
        url = (
            request.host_url.rstrip("/") + quote(request.path, safe=URL_SAFE) + (f"?{query}" if query else "")
        )
        valid = RequestValidator(AUTH_TOKEN).validate(url, request.form, signature)
        return jsonify(
            valid=valid,
            path=path,
            args=request.args.to_dict(),
            form=request.form.to_dict(),
            url=url,
            agent=request.user_agent.string,
        )

    return app


@pytest.mark.parametrize("params", TRICKY)
@pytest.mark.parametrize("url", URLS)
def test_the_app_gets_the_request_twilio_would_send(url, params):
    """Form, query, path and host arrive as sent, and the signature checks against the URL the app sees."""
    reply = WsgiTransport(_echo(), AUTH_TOKEN).post(url, params)
    assert reply.status == 200 and reply.content_type == "application/json"
    seen = json.loads(reply.body)
    parts = urlsplit(url)
    assert seen["valid"] is True
    assert seen["form"] == params
    assert seen["url"] == url
    assert "/" + seen["path"] == unquote(parts.path)
    assert seen["args"] == dict(parse_qsl(parts.query))
    assert seen["agent"].startswith("TwilioProxy/")


def test_a_wrong_token_is_refused_by_the_app():
    """The signature is really checked: with another token the echo app's validator says no."""
    reply = WsgiTransport(_echo(), "another-token").post(URLS[0], {"CallSid": "CA1"})
    assert json.loads(reply.body)["valid"] is False


def test_ivr_refuses_a_wrongly_signed_call_and_answers_a_signed_one(app):
    """Against ivr itself: a call signed with the wrong token gets HTTP 403, the right token a document."""
    clock = VirtualClock(OPEN)
    app.config["IVR_CLOCK"] = clock.now
    wrong = SimulatedCall(WsgiTransport(app, "not-the-token"), "https://ivr.test", "+15125550123",
                          "+15125550100", clock, Caller.scripted([Input(digits="1")]))  # fmt: skip
    result = wrong.run()
    assert result.error is not None and "403" in result.error.message
    right = SimulatedCall(WsgiTransport(app, AUTH_TOKEN), "https://ivr.test", "+15125550123",
                          "+15125550100", clock, Caller.scripted([Input(digits="1")]))  # fmt: skip
    assert right.run().ok
