"""Checks every Twilio webhook makes first: a sane form body, then a valid X-Twilio-Signature."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path when set (behind a proxy), else the request URL."""
    base = str(current_app.config["PUBLIC_BASE_URL"])
    query = request.query_string.decode("latin-1")
    if not base:
        return request.url if query else request.base_url
    return base + request.path + (f"?{query}" if query else "")


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
