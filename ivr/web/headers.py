"""Security headers of every page: script only from this site's files (no inline script, eval or handlers), no
plugins or framing. No default-src/style-src on purpose: inline style attributes keep working."""

from __future__ import annotations

from flask import Response

POLICY = "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
}


def secure(response: Response) -> Response:
    """Add the security headers a response does not set itself."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
