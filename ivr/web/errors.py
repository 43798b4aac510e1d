"""Error pages for people: the header, what went wrong in plain words, and a way back.
ivr/__init__.py sends every HTTP error outside /api/ and /voice/ here."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from flask import Response, render_template, request, url_for
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

TITLES = {
    400: "That request did not make sense",
    403: "Not for this account",
    404: "Page not found",
    405: "Not a way to use this page",
    413: "That was too large",
    500: "Something went wrong on our side",
}
HINTS = {
    400: "Check the address or the form and try again.",
    403: "Your account may not see this page. Ask an ops user if you need it.",
    404: "The address may be mistyped, or the call, campaign or page is not there (or not in your desk).",
    405: "This address is there, but not for that kind of request: follow a link or a button instead.",
    413: "Send something smaller.",
    500: "The error is logged. Try again in a moment; if it happens again, tell whoever runs ivr.",
}


def _back() -> str | None:
    """The page the person came from, when it is another page of this site."""
    referrer = request.referrer
    if not referrer:
        return None
    parsed = urlparse(referrer)
    if parsed.netloc != request.host or not parsed.path.startswith("/") or parsed.path == request.path:
        return None
    if parsed.path.startswith("//") or "\\" in parsed.path:  # a browser reads //host as another site
        return None
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


def error_page(error: HTTPException) -> Response | HTTPException:
    """The styled page of an HTTP error, with its status and the error's own headers (Allow, ...)."""
    code = error.code or 500
    title = TITLES.get(code, error.name)
    # Only a message the app gave (abort(403, "...")): werkzeug's stock wording repeats the title; a 500
    # never shows internals.
    own = error.description != type(error).description
    message = error.description if own and code != 500 else None
    try:
        body = render_template(
            "error.html",
            code=code,
            name=error.name,
            title=title,
            message=message,
            hint=HINTS.get(code),
            back=_back(),
            home=url_for("web.calls.index"),
        )
    except Exception:  # rendering needs the database (who is signed in): fall back to the plain page
        logger.exception("cannot render the error page for %s %s", code, request.path)
        return error
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    return Response(body, code, headers=headers, content_type="text/html; charset=utf-8")
