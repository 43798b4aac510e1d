"""The OpenAPI 3.1 document: served, sound, covering every /api route and its parameters; and the check
of every API answer against it (tests/openapi.py) catches an answer that does not match."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ivr.calls.outcomes import OUTCOMES
from ivr.calls.query import DIRECTIONS, LEGS
from ivr.models import STATUS_RANK

from ..openapi import DOCUMENT, METHODS, operation, problems, resolved

ROOT = Path(__file__).resolve().parents[2]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(t, m, op) for t, item in DOCUMENT["paths"].items() for m, op in item.items() if m in METHODS]


def _routes(app) -> dict[tuple[str, str], Any]:
    """(template, method) of every /api route, werkzeug's <name> written {name}, with its view."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                found[(template, method.lower())] = app.view_functions[rule.endpoint]
    return found


def test_the_document_is_served_without_a_token(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == json.loads((ROOT / "ivr" / "api" / "openapi.json").read_text(encoding="utf-8"))


def test_every_route_is_documented_and_every_operation_is_a_route(app):
    routes = _routes(app)
    documented = {(template, method) for template, method, _ in _operations()}
    assert set(routes) == documented


def test_each_view_takes_the_query_parameters_the_document_lists(app):
    routes = _routes(app)
    for template, method, op in _operations():
        listed = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        declared = getattr(routes[(template, method)], "query_parameters", None)
        assert declared == listed, (method, template)
        in_path = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{([^}]+)\}", template)), (method, template)


def test_the_document_is_sound():
    assert DOCUMENT["openapi"].startswith("3.1.")
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for ref in _refs(DOCUMENT):
        assert ref.startswith("#/") and resolved({"$ref": ref}), ref
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids))
    for template, method, op in _operations():
        assert op["summary"] and "default" in op["responses"], (method, template)
        for status, response in op["responses"].items():
            for media in resolved(response)["content"].values():
                if "$ref" not in media["schema"]:  # JSON answers are checked through a named schema
                    assert media["schema"] == {"type": "string"}, (method, template, status)
    assert DOCUMENT["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "ivr token create --name NAME [--desk DESK]",
    }


def test_a_literal_path_is_matched_before_a_template():
    assert operation("post", "/api/campaigns/7/contacts")["operationId"] == "importContacts"
    assert operation("post", "/api/campaigns/7/pause")["operationId"] == "changeCampaign"
    assert operation("get", "/api/dnc/import")["operationId"] == "getDnc"  # as the router does
    assert operation("get", "/api/calls.csv")["operationId"] == "exportCalls"


def test_the_check_catches_answers_the_document_denies():
    error = {"error": {"status": 404, "code": "not_found", "message": "no call CA1"}}
    assert problems("GET", "/api/calls/CA1", 404, "application/json", error) == []
    assert problems("GET", "/api/nosuch", 404, "application/json", error) == []
    wrong_code = {"error": {"status": 404, "code": "missing", "message": "no call CA1"}}
    assert problems("GET", "/api/calls/CA1", 404, "application/json", wrong_code)
    assert problems("GET", "/api/calls/CA1", 200, "application/json", {"call": {}, "events": []})
    assert problems("GET", "/api/calls/CA1", 200, "text/html", "<p>")
    assert problems("GET", "/api/nosuch", 200, "application/json", {})
    page = {"calls": [], "page": 1, "per_page": 501, "total": 0, "next": None}
    assert problems("GET", "/api/calls", 200, "application/json", page)  # above the cap
    assert problems("GET", "/api/calls", 200, "application/json", page | {"per_page": 50}) == []


def test_the_documented_choices_are_the_codes_own():
    """The enums a client validates against are the lists the code checks with, not copies kept by hand."""
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["Call"]["properties"]["outcome"]["enum"] == [*OUTCOMES, None]
    assert schemas["Call"]["properties"]["status"]["enum"] == list(STATUS_RANK)
    parameters = {p["name"]: p for p in DOCUMENT["paths"]["/api/calls"]["get"]["parameters"]}
    for name, choices in (("outcome", OUTCOMES), ("legs", LEGS), ("direction", DIRECTIONS)):
        described = parameters[name]["description"] + json.dumps(parameters[name]["schema"])
        assert all(choice in described for choice in choices), name
