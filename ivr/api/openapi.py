"""The API's OpenAPI 3.1 document (ivr/api/openapi.json), served at /api/openapi.json without a token.
Tests validate every API response against it (tests/openapi.py)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response

from .params import query_parameters

bp = Blueprint("openapi", __name__)


@cache
def document() -> bytes:
    """The document's bytes, read from the package once."""
    return files("ivr.api").joinpath("openapi.json").read_bytes()


@bp.get("/openapi.json")
@query_parameters()
def show() -> Response:
    """The OpenAPI 3.1 document of every /api endpoint."""
    return Response(document(), mimetype="application/json")
