"""JSON Schema checks of flow and site documents, with errors mapped to file, node and field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any, cast

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource

from .problems import Problem, did_you_mean

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


TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object ({...})",
    "array": "a list ([...])",
    "null": "null",
}
PATTERNS = {  # what each pattern of the schemas asks for, in words
    "^[A-Za-z][A-Za-z0-9_-]{0,63}$": "is not a name: a letter, then letters, digits, '_' or '-' (64 at most)",
    "^\\+[1-9][0-9]{6,14}$": "is not a phone number in E.164 form, like '+15125550100'",
    "^\\+[1-9][0-9]{1,14}$": "is not a phone number in E.164 form, like '+15125550100'",
    "^(\\+[1-9][0-9]{6,14}|sips?:.+)$": "is not an E.164 number (like '+15125550100') or a sip: address",
    "^(https?://|/).+": "is not an audio URL: it starts with https://, http:// or /",
    "^[0-9*#]$": "is not a key: one of 0 to 9, * or #",
    "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$": "is not a time of day as HH:MM (00:00 to 24:00)",
    "^[a-z]{2,3}$": "is not a language key: 2 or 3 small letters, like 'en'",
    "^[a-z]{2,3}-[A-Z]{2}$": "is not a language code like 'en-US'",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "is not a date as YYYY-MM-DD",
    "^[A-Z]{3}$": "is not a currency code: 3 capital letters, like 'USD'",
}
FORMATS = {"regex": "a valid regular expression", "date": "a date as YYYY-MM-DD"}


def shown(value: Any) -> str:
    """A value as a person reads it: text quoted, numbers and true/false as in JSON, never a Python repr."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)


def _expected(error: ValidationError) -> Any:
    """The keyword's value in the schema (a type name, a limit, a list of choices...)."""
    return cast(Any, error.validator_value)


def _rule(error: ValidationError) -> Mapping[str, Any]:
    """The schema object the keyword sits in."""
    return cast(Mapping[str, Any], error.schema)


def _kind(error: ValidationError) -> str:
    """The keyword that failed: required, type, pattern..."""
    return str(error.validator)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _required(error: ValidationError) -> str:
    return f"field {_required_name(error)!r} is required"


def _required_name(error: ValidationError) -> str:
    """The field a 'required' error names (jsonschema reports each missing field on its own)."""
    return str(next(name for name in _expected(error) if error.message.startswith(repr(name))))


def _additional(error: ValidationError) -> str:
    known = _rule(error).get("properties", {})
    extra = [name for name in cast(Mapping[str, Any], error.instance) if name not in known]
    return "; ".join(f"unknown field {name!r}{did_you_mean(name, known)}" for name in extra)


def _type(error: ValidationError) -> str:
    wanted = _expected(error) if isinstance(_expected(error), list) else [_expected(error)]
    return f"must be {' or '.join(TYPES[name] for name in wanted)}, not {shown(error.instance)}"


def _enum(error: ValidationError) -> str:
    choices = _expected(error)
    hint = did_you_mean(error.instance, map(str, choices)) if isinstance(error.instance, str) else ""
    return f"{shown(error.instance)} is not one of {', '.join(map(shown, choices))}{hint}"


def _pattern(error: ValidationError) -> str:
    # the schema's own words for a pattern when it has them (VS Code shows the same keyword's text)
    words = _rule(error).get("patternErrorMessage") or PATTERNS.get(
        _expected(error), f"does not have the expected form ({_expected(error)})"
    )
    return f"{shown(error.instance)} {words}"


def _length(error: ValidationError) -> str:
    limit = _expected(error)
    if _kind(error) == "maxLength":
        return f"must be at most {_count(limit, 'character')} long"
    return "must not be empty" if limit == 1 else f"must be at least {_count(limit, 'character')} long"


def _size(error: ValidationError) -> str:
    limit, noun = _expected(error), "item" if _kind(error).endswith("Items") else "entry"
    if _kind(error).startswith("max"):
        return f"takes at most {_count(limit, noun).replace('entrys', 'entries')}"
    return (
        "must not be empty"
        if limit == 1
        else f"needs at least {_count(limit, noun).replace('entrys', 'entries')}"
    )


def _bound(error: ValidationError) -> str:
    words = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "more than",
        "exclusiveMaximum": "less than",
    }
    return f"must be {words[_kind(error)]} {_expected(error)}, not {shown(error.instance)}"


def _ruled_out(error: ValidationError) -> bool:
    """Whether an error says the value is not even of the right kind (text, number, object...) here."""
    if error.relative_path:
        return False
    if _kind(error) in ("oneOf", "anyOf"):
        return all(_ruled_out_form(errors) for errors in _forms(error).values())
    return _kind(error) == "type"


def _ruled_out_form(errors: list[ValidationError]) -> bool:
    return any(_ruled_out(sub) for sub in errors)


def _forms(error: ValidationError) -> dict[int, list[ValidationError]]:
    forms: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        forms.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    return forms


def _missing(error: ValidationError) -> str | None:
    """The field a 'required' error at this very value names, else None."""
    if _kind(error) != "required" or error.relative_path:
        return None
    return _required_name(error)


def _meant(error: ValidationError) -> list[ValidationError] | None:
    """oneOf/anyOf: the errors of the one form the value was meant to take, or None when that is unclear.

    The forms of the right kind (an object for an object); of those, the one whose required fields the
    value names; else the one it lacks no required field of.
    """
    forms = _forms(error)
    fitting = [index for index, errors in forms.items() if not _ruled_out_form(errors)]
    keys = set(error.instance) if isinstance(error.instance, dict) else set()
    named = [index for index in fitting if keys & set(_expected(error)[index].get("required", ()))]
    complete = [index for index in fitting if not any(_missing(sub) for sub in forms[index])]
    for choice in (fitting, named, complete):
        if len(choice) == 1:
            return forms[choice[0]]
    return None


def _alternatives(error: ValidationError) -> str:
    """oneOf/anyOf when the form is unclear: the fields that would make it one, else a pointer."""
    needs = [[_missing(sub) for sub in errors] for errors in _forms(error).values()]
    if needs and all(len(names) == 1 and names[0] for names in needs):
        return f"needs one of the fields {', '.join(repr(names[0]) for names in needs)}"
    return "fits none of the forms this field can take (see the schema)"


def explain(error: ValidationError) -> tuple[list[Any], str]:
    """Where an error is (its path in the document) and what is wrong there, in words."""
    meant = _meant(error) if _kind(error) in ("oneOf", "anyOf") else None
    if meant is None:
        return list(error.absolute_path), words(error)
    here = [sub for sub in meant if not sub.relative_path]
    if len(here) > 1:
        return list(error.absolute_path), "; ".join(words(sub) for sub in here)
    return explain(here[0] if here else max(meant, key=relevance))


WORDING: dict[str, Callable[[ValidationError], str]] = {
    "required": _required,
    "additionalProperties": _additional,
    "type": _type,
    "enum": _enum,
    "const": lambda error: f"must be {shown(_expected(error))}",
    "pattern": _pattern,
    "minLength": _length,
    "maxLength": _length,
    "minItems": _size,
    "maxItems": _size,
    "minProperties": _size,
    "maxProperties": _size,
    "uniqueItems": lambda error: "lists the same item twice",
    "minimum": _bound,
    "maximum": _bound,
    "exclusiveMinimum": _bound,
    "exclusiveMaximum": _bound,
    "format": lambda error: (
        f"{shown(error.instance)} is not {FORMATS.get(_expected(error), _expected(error))}"
    ),
    "oneOf": _alternatives,
    "anyOf": _alternatives,
    "not": lambda error: "is not allowed together with the other fields here",
}


def words(error: ValidationError) -> str:
    """A schema error in words for the person who wrote the file (no Python reprs of whole objects)."""
    wording = WORDING.get(_kind(error))
    return wording(error) if wording else error.message


def check(kind: str, document: Mapping[str, Any], file: str) -> list[Problem]:
    """Every schema error in a document; for flows, node errors name the node."""
    problems = []
    for error in validator(kind).iter_errors(document):
        # For oneOf/anyOf failures, the sub-error that best explains what is wrong, at its own path
        # (for a prompt {"en": ""}: field prompt.en, "must not be empty", not "is not of type 'array'").
        detail = best_match([error]) or error
        path, message = explain(error if error.validator in ("oneOf", "anyOf") else detail)
        node = None
        if kind == "flow" and len(path) >= 2 and path[0] == "nodes":
            node, path = str(path[1]), path[2:]
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
