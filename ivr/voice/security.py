"""Checks every Twilio webhook makes first: a sane form body, then a valid X-Twilio-Signature."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from flask import abort, current_app, g, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)
URL_SAFE = "/:@!$&'()*+,;=-._~"
MAX_SID = 64
SIMULATED_TIME = "IvrSimulatedTime"  # the form field `ivr simulate --at --url` signs its virtual time in


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path when set (behind a proxy), else the request's own.

    Built from the raw path and query string: Werkzeug's request.url decodes percent-escapes, while Twilio
    signs the URL exactly as configured.
    """
    base = str(current_app.config["PUBLIC_BASE_URL"])
    query = request.query_string.decode("latin-1")
    if base:
        path = quote(request.path, safe=URL_SAFE)
    else:
        base = request.host_url.rstrip("/")
        path = quote(request.script_root + request.path, safe=URL_SAFE)
    return base + path + (f"?{query}" if query else "")


def check_body() -> None:
    """Reject bodies that are not UTF-8 form data (400) before anything reads them."""
    if request.mimetype != "application/x-www-form-urlencoded":
        abort(415, "Twilio webhooks post application/x-www-form-urlencoded")
    body = request.get_data(cache=True)
    try:
        parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        abort(400, "request body is not UTF-8")


def check_signature() -> None:
    """Abort with 403 unless X-Twilio-Signature matches the auth token, URL and parameters."""
    signature = request.headers.get("X-Twilio-Signature", "")
    url = signed_url()
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    if not signature or not validator.validate(url, request.form, signature):
        log.warning(
            "rejected %s: %s X-Twilio-Signature for %s", request.path, "wrong" if signature else "no", url
        )
        abort(403, "invalid X-Twilio-Signature")


def simulated_time() -> None:
    """Take a signed IvrSimulatedTime (ivr simulate --at) as the request's time, where the server allows it.

    Twilio never sends it; only a server with IVR_SIMULATED_TIME=1 (`ivr serve` with its made-up token)
    accepts it, and any other answers 400, so a simulated call is never logged at the wrong time.
    """
    value = request.form.get(SIMULATED_TIME)
    if value is None:
        return
    if not current_app.config["SIMULATED_TIME"]:
        abort(
            400, f"{SIMULATED_TIME}: this server keeps its own clock; --at needs IVR_SIMULATED_TIME=1 on it"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        abort(400, f"{SIMULATED_TIME}: {value!r} is not an ISO 8601 date-time")
    g.simulated_now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_identifiers() -> None:
    """CallSid must be present, and SIDs short enough to be Twilio's (400 otherwise)."""
    if not request.form.get("CallSid"):
        abort(400, "CallSid is missing")
    for name in ("CallSid", "AccountSid", "ParentCallSid"):
        if len(request.form.get(name, "")) > MAX_SID:
            abort(400, f"{name} is longer than {MAX_SID} characters")
