"""The document for a number's Fallback URL, built without the database (which may be what failed): the
site's fallback from the version in memory, else the flows folder, else a plain apology."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from ..extensions import flows
from .responses import fallback_twiml

log = logging.getLogger(__name__)
bp = Blueprint("fallback_url", __name__)


@bp.post("/fallback.xml")
def fallback_document() -> Response:
    """Twilio's request to the Fallback URL (with ErrorCode and ErrorUrl): the site's fallback, fitting
    the step that failed (a queue's wait loop keeps the caller waiting)."""
    failed = request.form.get("ErrorUrl", "")
    log.warning(
        "call %s: Twilio used the Fallback URL (error %s on %s)",
        request.form["CallSid"],
        request.form.get("ErrorCode", "?"),
        urlsplit(failed).path,
    )
    event = urlsplit(failed).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        return fallback_twiml(flows().site_for_fallback(), event, request.form)
    except Exception:  # even a broken site answers: the plain apology
        log.exception("call %s: the site's fallback failed; answering the apology", request.form["CallSid"])
        return fallback_twiml(None)
