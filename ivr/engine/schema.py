"""JSON Schema checks of flow and site documents, with errors mapped to file, node and field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from .problems import Problem

SCHEMA_FILES = ("flow.schema.json", "site.schema.json")


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files("ivr") / "schemas"
    return {name: json.loads((folder / name).read_text("utf-8")) for name in SCHEMA_FILES}


@cache
def validator(kind: str) -> Draft202012Validator:
    """A validator for 'flow' or 'site' documents."""
    schemas = _schemas()
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return Draft202012Validator(
        schemas[f"{kind}.schema.json"], registry=registry, format_checker=FormatChecker()
    )


def _dotted(path: Iterable[Any]) -> str | None:
    parts = ""
    for item in path:
        parts += f"[{item}]" if isinstance(item, int) else f".{item}"
    return parts.lstrip(".") or None


def check(kind: str, document: Mapping[str, Any], file: str) -> list[Problem]:
    """Every schema error in a document; for flows, node errors name the node."""
    problems = []
    for error in validator(kind).iter_errors(document):
        # For oneOf/anyOf failures, the sub-error that best explains what is wrong, at its own path
        # (for a prompt {"en": ""}: field prompt.en, "should be non-empty", not "is not of type 'array'").
        detail = best_match([error]) or error
        path = list(detail.absolute_path)
        node = None
        if kind == "flow" and len(path) >= 2 and path[0] == "nodes":
            node, path = str(path[1]), path[2:]
        message = detail.message
        if detail.validator == "pattern" and "patternErrorMessage" in detail.schema:
            # the schema's own words for a pattern (VS Code shows the same keyword's text)
            message = f"{detail.instance!r} {detail.schema['patternErrorMessage']}"
        if detail.schema is False:
            # A field that the node's other settings rule out (a route's strategy). jsonschema reports it
            # at the node, with the field's value: find the field by its value.
            parent: Any = document
            for part in detail.absolute_path:
                parent = parent[part]
            fields = [key for key, value in parent.items() if value == detail.instance]  # parent: an object
            path += fields[:1]
            message = "not used with the node's other settings (see its strategy)"
        problems.append(Problem(file, node, _dotted(path), message))
    return sorted(set(problems), key=Problem.sort_key)
