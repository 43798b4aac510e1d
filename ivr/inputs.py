"""The app's guards on what requests send: the `int` route converter and the JSON provider (ivr/bounds.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

from .bounds import BIGINT_MAX, INT_MAX, loads_json


class IdConverter(IntegerConverter):
    """`<int:name>` in every route: an id the database cannot hold matches no route (404).
    INTEGER's range by default; `<int(wide=True):name>` for a BIGINT id column."""

    def __init__(self, map: Map, *args: Any, wide: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max", BIGINT_MAX if wide else INT_MAX)
        super().__init__(map, *args, **kwargs)


class BoundedJSON(DefaultJSONProvider):
    """The app's JSON: request bodies read by loads_json, so no JSON body nests deeper than JSON_DEPTH."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a body (a RecursionError or a too deep value is a ValueError, so a 400)."""
        return loads_json(s)


def init_app(app: Flask) -> None:
    """Bound what routes read: ids by the `int` converter (call before adding routes), JSON by depth."""
    app.url_map.converters["int"] = IdConverter
    app.json = BoundedJSON(app)
