"""Every API response checked against the OpenAPI document (ivr/api/openapi.json), by JSON Schema 2020-12.
`watch(app)` (the `app` fixture calls it) fails the test whose request got an answer the document denies."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "ivr" / "api" / "openapi.json").read_text(encoding="utf-8")
)
BASE = "urn:ivr:openapi"
REGISTRY: Registry[Any] = Registry().with_resource(BASE, DRAFT202012.create_resource(DOCUMENT))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def template_pattern(template: str) -> re.Pattern[str]:
    """A path template (/api/calls/{call_sid}) as a regular expression matching one segment a parameter."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def operation(method: str, path: str) -> dict[str, Any] | None:
    """The documented operation a request reaches: a literal path before a template (as the router does)."""
    found = [
        (template.count("{"), item[method.lower()])
        for template, item in DOCUMENT["paths"].items()
        if method.lower() in item and template_pattern(template).match(path)
    ]
    return min(found, key=lambda pair: pair[0])[1] if found else None


def resolved(item: dict[str, Any]) -> dict[str, Any]:
    """A response object, its $ref followed within the document."""
    while "$ref" in item:
        node: Any = DOCUMENT
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        item = node
    return item


@cache
def validator(ref: str) -> Draft202012Validator:
    """A validator of the schema at `ref` (#/components/schemas/...), formats checked."""
    return Draft202012Validator(
        {"$ref": BASE + ref}, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def problems(method: str, path: str, status: int, mimetype: str, body: Any) -> list[str]:
    """What the document says is wrong with this answer (empty when it conforms)."""
    found = operation(method, path)
    if found is None:  # no such route or method: only the JSON error of 404 or 405 may answer
        if status not in (404, 405):
            return [f"{method} {path} is not in the document, yet answered {status}"]
        response = resolved({"$ref": "#/components/responses/Error"})
    else:
        responses = found["responses"]
        response = resolved(responses.get(str(status)) or responses.get("default") or {})
        if not response:
            return [f"{method} {path}: status {status} is not documented"]
    content = response.get("content", {})
    if mimetype not in content:
        return [f"{method} {path} -> {status}: {mimetype} is not documented (only {sorted(content)})"]
    if mimetype != "application/json":
        return []
    ref = content[mimetype]["schema"]["$ref"]
    return [
        f"{method} {path} -> {status}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(ref).iter_errors(body)
    ]


def watch(app: Flask) -> None:
    """Check every answer under /api/ against the document; a mismatch fails the request's test."""

    @app.after_request
    def _conforms(response: Response) -> Response:
        if request.path.startswith("/api/"):
            json_body = response.mimetype == "application/json" and not response.is_streamed
            body = response.get_json() if json_body else None
            found = problems(request.method, request.path, response.status_code, response.mimetype, body)
            assert not found, "the answer does not match ivr/api/openapi.json:\n" + "\n".join(found)
        return response
