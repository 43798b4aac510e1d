"""The API's errors as JSON: {"error": {"status", "code", "message"}}, with a stable snake_case code.
Used for every path under /api/, unknown routes included (the app-level dispatcher in ivr/__init__.py)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

# The codes are part of the API (docs/api.md, "Errors"): clients branch on them, never on the message.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def error_code(status: int) -> str:
    """The stable code of an HTTP status (`error` for one without a code of its own)."""
    return CODES.get(status, "error")


def error_response(status: int, message: str, **extra: Any) -> Response:
    """A JSON error with this status and message; `extra` fields (e.g. problems) go into the error object."""
    response = jsonify(error={"status": status, "code": error_code(status), "message": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ivr"'
    return response


def _message(error: HTTPException, status: int) -> str:
    if error.description and error.description != type(error).description:
        return error.description  # the view's own words
    if status == 404 and request.url_rule is None:
        return f"no API endpoint {request.path}: the endpoints are listed in /api/openapi.json"
    if status == 405:
        return f"{request.method} is not allowed on {request.path}"
    if status == 401:
        return "send a valid API token: Authorization: Bearer <token> (see `ivr token create`)"
    return error.description or error.name


def json_error(error: HTTPException) -> Response:
    """An HTTP error as the API answers it: JSON with status, code and message (and Allow for a 405)."""
    status = error.code or 500
    response = error_response(status, _message(error, status))
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response
