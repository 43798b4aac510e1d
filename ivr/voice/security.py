"""Checks every Twilio webhook makes first: a sane form body, read once, then a valid X-Twilio-Signature."""

from __future__ import annotations

import hmac
import logging
from base64 import b64encode
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import sha1
from urllib.parse import quote, unquote

from flask import Request, abort, current_app, g, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.sansio.utils import get_current_url

log = logging.getLogger(__name__)
URL_SAFE = "/:@!$&'()*+,;=-._~"
MAX_SID = 64
SIMULATED_TIME = "IvrSimulatedTime"  # the form field `ivr simulate --at --url` signs its virtual time in


def signed_url(req: Request, base: str) -> str:
    """The URL Twilio signed: `base` (PUBLIC_BASE_URL) + path when set (behind a proxy), else the request's.

    Built from the raw path and query string: Werkzeug's request.url decodes percent-escapes, while Twilio
    signs the URL exactly as configured.
    """
    query = req.query_string.decode("latin-1")
    if base:
        path = _quoted_path(req.path)
    else:
        base = _host_url(req.scheme, req.host)
        path = _quoted_path(req.script_root + req.path)
    return base + path + (f"?{query}" if query else "")


@lru_cache(maxsize=1024)
def _quoted_path(path: str) -> str:
    """A path as Twilio signs it (a flow's few dozen paths recur on every call)."""
    return quote(path, safe=URL_SAFE)


@lru_cache(maxsize=64)
def _host_url(scheme: str, host: str) -> str:
    """request.host_url without its slash (Werkzeug rebuilds it, IDNA-decoded, on every request)."""
    return get_current_url(scheme, host).rstrip("/")


def _unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text, "utf-8", "strict") if "%" in text else text


SHORT = 64  # longer names and values are decoded each time (the cache stays small whatever is posted)
RECURRING = frozenset({
    "AccountSid", "ApiVersion", "CallSid", "CallStatus", "Called", "Caller", "Direction", "From", "To",
    "ParentCallSid", "QueueSid", "DialCallStatus", "FinishedOnKey", "SequenceNumber", "QueueResult",
})  # fmt: skip  # values the same on many webhooks (a call's own), never what a caller typed or said
_unquote_recurring = lru_cache(maxsize=4096)(_unquote)


def parse_form(text: str) -> list[tuple[str, str]]:
    """The pairs of a form body, as urllib's parse_qsl(keep_blank_values=True, errors="strict") gives them
    (split on "&" only, empty parts skipped, a part without "=" an empty value) in fewer steps: names, and
    the values of RECURRING fields, are decoded once."""
    pairs = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            name = _recurring(name)
            pairs.append((name, _recurring(value) if name in RECURRING else _unquote(value)))
    return pairs


def _recurring(text: str) -> str:
    """A name or value that recurs, percent-decoded once (a decoding error is raised each time, not kept)."""
    return _unquote_recurring(text) if len(text) <= SHORT else _unquote(text)


def read_form() -> MultiDict[str, str]:
    """The webhook's form, read and parsed once, then kept as request.form for everything after.

    415 unless form-encoded; 413 over the app's size limit (MAX_CONTENT_LENGTH, by Werkzeug's stream); 400
    unless strict UTF-8 (percent-escapes too), or with a NUL character in the path, query string or form (the
    app-wide guard, ivr.db.reject_nul, does not run for webhooks: ivr.application).
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.mimetype != "application/x-www-form-urlencoded":
        abort(415, "Twilio webhooks post application/x-www-form-urlencoded")
    query = req.query_string
    if "\x00" in req.path or b"%00" in query or b"\x00" in query:
        abort(400, "NUL characters are not allowed")
    try:
        text = req.get_data(cache=True).decode("utf-8")
        if "%00" in text or "\x00" in text:  # what percent-decodes to a NUL, and a raw one
            abort(400, "NUL characters are not allowed")
        items = parse_form(text)
    except UnicodeDecodeError:
        abort(400, "request body is not UTF-8")
    form: MultiDict[str, str] = req.parameter_storage_class(items)
    req.form = form  # what Werkzeug would parse from the same body (it decodes less strictly)
    req.files = MultiDict()
    return form


def expected_signature(token: str, url: str, form: MultiDict[str, str]) -> bytes:
    """X-Twilio-Signature for this URL and form, as twilio's RequestValidator.compute_signature builds it:
    the URL, then each parameter name (sorted) followed by each of its distinct values (sorted)."""
    return pairs_signature(token, url, form.items(multi=True))


def pairs_signature(token: str, url: str, pairs: Iterable[tuple[str, str]]) -> bytes:
    """expected_signature for a form given as its (name, value) pairs, repeated names allowed."""
    # the distinct pairs sorted are the names sorted, each with its distinct values sorted
    signed = url + "".join([name + value for name, value in sorted(set(pairs))])
    # hmac.new, not hmac.digest: OpenSSL's one-shot HMAC looks the MAC up anew each time (slower in a webhook)
    return b64encode(hmac.new(token.encode("utf-8"), signed.encode("utf-8"), sha1).digest())


def check_signature(form: MultiDict[str, str]) -> None:
    """Abort with 403 unless X-Twilio-Signature matches the auth token, URL and parameters.

    One HMAC for the URL as signed; only when it differs, twilio's RequestValidator (which tries the URL with
    and without its port: Twilio's signing is not consistent about the default port).
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    config = current_app.config
    signature = req.headers.get("X-Twilio-Signature", "")
    url = signed_url(req, str(config["PUBLIC_BASE_URL"]))
    token = config["TWILIO_AUTH_TOKEN"]
    if signature and hmac.compare_digest(expected_signature(token, url, form), signature.encode("utf-8")):
        return
    if not signature or not RequestValidator(token).validate(url, form, signature):
        why = "wrong" if signature else "no"
        log.warning("rejected %s: %s X-Twilio-Signature for %s", req.path, why, url)
        abort(403, "invalid X-Twilio-Signature")


def simulated_time(form: MultiDict[str, str]) -> None:
    """Take a signed IvrSimulatedTime (ivr simulate --at) as the request's time, where the server allows it.

    Twilio never sends it; only a server with IVR_SIMULATED_TIME=1 (`ivr serve` with its made-up token)
    accepts it, and any other answers 400, so a simulated call is never logged at the wrong time.
    """
    value = form.get(SIMULATED_TIME)
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


def check_identifiers(form: MultiDict[str, str]) -> None:
    """CallSid must be present, and SIDs short enough to be Twilio's (400 otherwise)."""
    if not form.get("CallSid"):
        abort(400, "CallSid is missing")
    for name in ("CallSid", "AccountSid", "ParentCallSid"):
        if len(form.get(name, "")) > MAX_SID:
            abort(400, f"{name} is longer than {MAX_SID} characters")
