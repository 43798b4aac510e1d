"""Reading what an API request sends: a JSON object, a CSV body streamed, a region, a page."""

from __future__ import annotations

import io
import json
from typing import Any, cast

from flask import abort, current_app, request

from ..bounds import PAGE_MAX, loads_json, whole
from ..campaigns.phone import check_region

MAX_IMPORT_BYTES = 256 * 1024 * 1024  # a CSV body may be this big (app config MAX_IMPORT_BYTES)
MAX_PER_PAGE = 500
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


def json_body() -> dict[str, Any]:
    """The request's JSON object, else 400."""
    if not request.is_json:
        abort(400, "send a JSON object (Content-Type: application/json)")
    try:
        body = loads_json(request.get_data())
    except ValueError as exc:  # not JSON, not UTF-8, or nested too deeply
        abort(400, f"the body is not a JSON object: {exc}")
    if not isinstance(body, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return body


def json_kind(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    kinds = {int: "a number", float: "a number", list: "an array", dict: "an object"}
    return kinds.get(type(value), "a string")


def text_field(body: dict[str, Any], name: str, default: str) -> str:
    """The body's field `name` (`default` when absent), else 400 when it is not text."""
    value = body.get(name, default)
    if not isinstance(value, str):
        abort(400, f"{name}: must be a string, not {json_kind(value)}")
    return value


def region() -> str | None:
    """The `region` parameter, checked (None when absent), else 400."""
    try:
        return check_region(request.args.get("region"))
    except ValueError as exc:
        abort(400, f"region: {exc}")


def csv_stream() -> io.TextIOWrapper:
    """The request body as a text stream (not read into memory), for a CSV upload."""
    if request.mimetype not in CSV_TYPES:
        abort(415, "send the list as the request body with Content-Type: text/csv")
    request.max_content_length = current_app.config.get("MAX_IMPORT_BYTES", MAX_IMPORT_BYTES)
    body = io.BufferedReader(cast(io.RawIOBase, request.stream))
    return io.TextIOWrapper(body, encoding="utf-8-sig", newline="")


def _whole(name: str, default: str) -> int:
    text = request.args.get(name, default).strip()
    number = whole(text, least=1, most=PAGE_MAX)
    if number is None:
        abort(400, f"{name}: {text!r} is not a positive whole number")
    return number


def page() -> tuple[int, int]:
    """The `page` and `per_page` parameters, checked (per_page above MAX_PER_PAGE refused), else 400."""
    page, per_page = _whole("page", "1"), _whole("per_page", "100")
    if per_page > MAX_PER_PAGE:
        abort(400, f"per_page: {per_page} is more than a page holds (at most {MAX_PER_PAGE})")
    return page, per_page
