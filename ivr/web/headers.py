"""Security headers: pages run script only from this site's files and cannot be framed; every answer is
never sniffed, and API answers load and run nothing (docs/operations.md, "Browser security")."""

from __future__ import annotations

from flask import Response, request

# no default-src/style-src on purpose: inline style attributes keep working
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


ANSWER_POLICY = "default-src 'none'; frame-ancestors 'none'"  # data, never a document: nothing runs in it


def secure_answer(response: Response) -> Response:
    """nosniff on every answer; API answers (JSON, CSV) also a policy that loads, runs and frames nothing."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path == "/api" or request.path.startswith("/api/"):
        response.headers.setdefault("Content-Security-Policy", ANSWER_POLICY)
    return response
