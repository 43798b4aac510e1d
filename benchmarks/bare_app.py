"""A bare Flask app for benchmarks/webhooks.py: the same fixed TwiML document for any POST path."""

from __future__ import annotations

from flask import Flask, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Say language="en-US" voice="Polly.Joanna">Thank you for calling Acme Home Supplies. '
    "Calls may be recorded for quality.</Say>"
    '<Gather action="/voice/step/main/language/input" actionOnEmptyResult="true" input="dtmf" '
    'method="POST" numDigits="1" timeout="4">'
    '<Say language="en-US" voice="Polly.Joanna">For English, press 1.</Say><Pause length="1"/>'
    '<Say language="es-US" voice="Polly.Lupe">Para español, oprima dos.</Say></Gather></Response>'
)


def create_app() -> Flask:
    """A Flask app answering every POST with TWIML (no signature check, no database)."""
    app = Flask(__name__)

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def answer(path: str) -> Response:
        """The fixed TwiML answer."""
        return Response(TWIML, status=200, content_type="text/xml; charset=utf-8")

    return app


app = create_app()
