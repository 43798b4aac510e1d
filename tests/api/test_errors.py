"""Errors under /api/ are JSON with a stable code, unknown routes and methods included; unknown query
parameters are refused on every endpoint, naming the accepted ones."""

from __future__ import annotations

import pytest

from ivr.accounts.tokens import create_token
from ivr.api.errors import CODES

from ..openapi import DOCUMENT


@pytest.fixture
def headers(session) -> dict[str, str]:
    token = create_token(session, "tests", role="admin")  # every endpoint
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert (error["status"], error["code"]) == (status, CODES[status])
    return error


@pytest.mark.parametrize("path", ["/api/nosuch", "/api/calls/CA1/events/2", "/api/", "/api"])
def test_unknown_routes_are_json_404(client, headers, path):
    for sent in ({}, headers):
        error = error_of(client.get(path, headers=sent), 404)
        assert "/api/openapi.json" in error["message"]


def test_a_method_a_route_does_not_take_is_json_405_with_allow(client, headers):
    response = client.put("/api/calls", headers=headers)
    error = error_of(response, 405)
    assert error["message"] == "PUT is not allowed on /api/calls"
    assert "GET" in response.headers["Allow"]
    assert error_of(client.delete("/api/campaigns", headers=headers), 405)


def test_no_token_is_401_with_a_challenge_and_a_hint(client):
    response = client.get("/api/dnc", headers={"Authorization": "Bearer wrong"})
    error = error_of(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ivr"'
    assert "ivr token create" in error["message"]


def test_a_partner_on_an_endpoint_of_other_roles_is_403(client, session):
    token = create_token(session, "bpo viewer", desk="bpo")
    session.commit()
    error = error_of(client.get("/api/dnc", headers={"Authorization": f"Bearer {token}"}), 403)
    assert error["message"] == (
        "The partner role may not read the do-not-call list (it needs the view_dnc permission)."
    )


def test_not_found_keeps_the_views_own_words(client, headers):
    assert error_of(client.get("/api/calls/CAnope", headers=headers), 404)["message"] == "no call CAnope"


def test_bodies_too_big_are_json_413(client, headers, app):
    too_big = client.post("/api/dnc", json={"note": "x" * app.config["MAX_CONTENT_LENGTH"]}, headers=headers)
    error_of(too_big, 413)
    app.config["MAX_IMPORT_BYTES"] = 100
    csv = "phone\n" + "+15125550100\n" * 20
    error_of(client.post("/api/dnc/import", data=csv, content_type="text/csv", headers=headers), 413)


def test_conflicts_and_media_types_have_codes(client, headers):
    error_of(client.post("/api/dnc/import", data="phone\n", content_type="text/html", headers=headers), 415)
    created = client.post(
        "/api/campaigns",
        json={"name": "Reminders", "flow": "main", "caller_id": "+15125550100"},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    error_of(client.post("/api/campaigns/Reminders/start", headers=headers), 409)


def test_a_bad_campaign_names_each_field_in_the_error(client, headers):
    error = error_of(client.post("/api/campaigns", json={"max_attempts": "many"}, headers=headers), 400)
    assert {p["field"] for p in error["problems"]} >= {"name", "max_attempts"}


def test_an_unexpected_failure_is_json_500(client, headers, app, monkeypatch):
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("ivr.campaigns.dnc.listed", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = error_of(client.get("/api/dnc", headers=headers), 500)
    assert "disk on fire" not in error["message"]


def test_pages_keep_their_own_errors(client):
    response = client.get("/nosuch")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def _routes(app):
    """Every API route and method, with sample path values."""
    values = {"<call_sid>": "CA1", "<ref>": "1", "<action>": "start", "<phone>": "+15125550100"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule
            for name, value in values.items():
                path = path.replace(name, value)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method, path


def test_every_endpoint_refuses_an_unknown_parameter_and_lists_the_accepted(app, client, headers):
    documented = {
        template: {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for template, item in DOCUMENT["paths"].items()
        for operation in item.values()
    }
    checked = 0
    for _rule, method, path in _routes(app):
        query = {"bogus": "1", "desks": "local,bpo"} if path == "/api/reports/compare" else {"bogus": "1"}
        error = error_of(client.open(path, method=method, headers=headers, query_string=query), 400)
        assert error["message"].startswith("'bogus': not a parameter of ")
        assert "(it takes: " in error["message"]
        checked += 1
    assert checked >= len(documented)


def test_the_call_list_names_what_it_takes(client, headers):
    error = error_of(client.get("/api/calls", query_string={"statsu": "completed"}, headers=headers), 400)
    assert error["message"].startswith("'statsu': not a parameter of GET /api/calls (it takes: after, desk,")
    assert "updated_since" in error["message"] and "per_page" in error["message"]
    one = error_of(client.get("/api/calls/CA1", query_string={"x": "1"}, headers=headers), 400)
    assert one["message"] == "'x': not a parameter of GET /api/calls/CA1 (it takes: no query parameters)"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"per_page": "501"}, "per_page: 501 is more than "),
        ({"per_page": "0"}, "per_page: '0' is not a positive whole number"),
        ({"page": "x"}, "page: 'x' is not a positive whole number"),
        ({"since": "yesterday"}, "since: 'yesterday' is not an ISO 8601 date or date-time in range"),
    ],
)
def test_call_filter_values_are_checked(client, headers, params, message):
    for path in ("/api/calls", "/api/calls.csv"):
        if path.endswith(".csv") and set(params) & {"page", "per_page"}:
            continue
        error = error_of(client.get(path, query_string=params, headers=headers), 400)
        assert error["message"].startswith(message)


def test_per_page_at_the_cap_is_served(client, headers):
    response = client.get("/api/calls", query_string={"per_page": "500"}, headers=headers)
    assert response.status_code == 200 and response.json["per_page"] == 500


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"per_page": "501"}, "per_page: 501 is more than a page holds (at most 500)"),
        ({"per_page": "-1"}, "per_page: '-1' is not a positive whole number"),
        ({"page": "0"}, "page: '0' is not a positive whole number"),
        ({"source": "fax"}, "source: 'fax' is not a source (choose one of: manual, import, opt-out)"),
    ],
)
def test_the_do_not_call_list_checks_its_parameters(client, headers, params, message):
    assert error_of(client.get("/api/dnc", query_string=params, headers=headers), 400)["message"] == message
