"""Input that once gave a 500 gets a 4xx with a clear message: deeply nested JSON, ids and pages too big for
the database, body fields of the wrong JSON type, a CSV field over the csv module's limit."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from ivr.accounts.tokens import create_token
from ivr.bounds import BIGINT_MAX, INT_MAX, JSON_DEPTH
from ivr.campaigns.csvfile import FIELD_LIMIT
from ivr.models import Campaign, Contact, DoNotCall

from ..campaign_helpers import new_campaign

SETTINGS = {"name": "Reminders", "flow": "main", "caller_id": "+15125550100"}
HUGE = [str(INT_MAX + 1), str(BIGINT_MAX), str(BIGINT_MAX + 1), "9" * 40]


@pytest.fixture
def headers(session) -> dict[str, str]:
    token = create_token(session, "tests", role="admin")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def message(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.json["error"]["message"])


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [JSON_DEPTH + 1, 5_000])  # a field deeper than allowed; past the stack
def test_deeply_nested_json_is_400(client, headers, session, levels):
    body = (
        '{"name": "Reminders", "flow": "main", "caller_id": "+15125550100", "tags": ' + nested(levels) + "}"
    )
    sent = client.post("/api/campaigns", data=body, content_type="application/json", headers=headers)
    assert message(sent, 400) == (
        f"the body is not a JSON object: arrays and objects nest deeper than {JSON_DEPTH} levels"
    )
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_json_nested_as_deep_as_allowed_is_read(client, headers):
    body = '{"name": "Reminders", "flow": "main", "caller_id": "+15125550100", "x": ' + nested(63) + "}"
    sent = client.post("/api/campaigns", data=body, content_type="application/json", headers=headers)
    assert message(sent, 400) == "x: unknown field"  # read, then refused for what it says


def test_deep_json_to_the_try_endpoint_is_400_too(client, headers):
    sent = client.post("/api/flows/try", data=nested(5_000), content_type="application/json", headers=headers)
    assert 400 <= sent.status_code < 500


@pytest.mark.parametrize("ref", HUGE)
def test_an_id_too_big_for_the_database_is_no_campaign(client, headers, app, session, ref):
    new_campaign(app, session)
    assert message(client.get(f"/api/campaigns/{ref}", headers=headers), 404) == f"no campaign {ref!r}"
    started = client.post(f"/api/campaigns/{ref}/start", headers=headers)
    assert message(started, 404) == f"no campaign {ref!r}"


def test_a_digit_that_is_not_ascii_is_a_name(client, headers):
    assert message(client.get("/api/campaigns/²", headers=headers), 404) == "no campaign '²'"


@pytest.mark.parametrize("page", [str(10**18), str(INT_MAX + 1), "10^18"])
def test_a_page_past_any_offset_is_400(client, headers, page):
    found = message(client.get("/api/dnc", query_string={"page": page}, headers=headers), 400)
    assert found == f"page: {page!r} is not a positive whole number"


def test_the_last_page_the_api_takes_is_empty(client, headers):
    answer = client.get("/api/dnc", query_string={"page": INT_MAX, "per_page": 500}, headers=headers)
    assert (answer.status_code, answer.json["entries"]) == (200, [])


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("region", 5, "a number"), ("region", ["US"], "an array"), ("note", {"a": 1}, "an object"),
     ("region", None, "null")],
)  # fmt: skip
def test_body_fields_of_the_wrong_json_type_are_400(client, headers, session, field, value, kind):
    sent = client.post("/api/dnc", json={"phone": "+15125550100", field: value}, headers=headers)
    assert message(sent, 400) == f"{field}: must be a string, not {kind}"
    assert session.scalar(select(func.count()).select_from(DoNotCall)) == 0


@pytest.mark.parametrize("version", [INT_MAX + 1, 10**30, True])
def test_a_version_the_database_cannot_hold_is_400(client, headers, version):
    sent = client.post("/api/flows/rollback", json={"version": version, "note": "undo"}, headers=headers)
    assert message(sent, 400) == "version: give a version number"


def test_a_csv_field_over_the_limit_is_a_bad_line_of_a_dnc_import(client, headers, session):
    text = f'phone\n+15125550101\n"{"5" * (FIELD_LIMIT + 1)}"\n+15125550102\n'
    sent = client.post("/api/dnc/import", data=text, content_type="text/csv", headers=headers)
    assert sent.status_code == 200, sent.json
    assert sent.json["report"]["invalid"] == [
        {
            "line": 3,
            "reason": f"a field is longer than {FIELD_LIMIT} characters (the most a CSV field may hold here)",
        }
    ]
    assert sorted(session.scalars(select(DoNotCall.phone))) == ["+15125550101", "+15125550102"]


def test_a_dnc_import_that_is_not_utf8_is_400(client, headers):
    sent = client.post(
        "/api/dnc/import", data=b"phone\n+15125550101\n\xff\n", content_type="text/csv", headers=headers
    )
    assert message(sent, 400) == "nothing imported: the body is not UTF-8 text"


def test_a_csv_field_over_the_limit_is_a_bad_line_of_a_contact_import(client, headers, app, session):
    campaign = new_campaign(app, session)
    text = f'phone,name\n+15125550101,Ann\n+15125550102,"{"x" * (FIELD_LIMIT + 1)}"\n+15125550103,Bob\n'
    sent = client.post(
        f"/api/campaigns/{campaign.id}/contacts", data=text, content_type="text/csv", headers=headers
    )
    assert sent.status_code == 200, sent.json
    report = sent.json["report"]
    assert [(row["line"], row["reason"]) for row in report["invalid_rows"]] == [
        (3, f"a field is longer than {FIELD_LIMIT} characters (the most a CSV field may hold here)")
    ]
    assert sorted(session.scalars(select(Contact.phone))) == ["+15125550101", "+15125550103"]


def test_a_csv_header_over_the_limit_is_400(client, headers, app, session):
    campaign = new_campaign(app, session)
    text = f'"{"x" * (FIELD_LIMIT + 1)}"\n+15125550101\n'
    sent = client.post(
        f"/api/campaigns/{campaign.id}/contacts", data=text, content_type="text/csv", headers=headers
    )
    assert message(sent, 400) == (
        f"nothing imported: bad header (line 1): a field is longer than {FIELD_LIMIT} characters "
        "(the most a CSV field may hold here)"
    )


DEEP = "[" * 5_000 + "]" * 5_000  # past the interpreter's stack: json.loads raises RecursionError


def test_a_flow_document_nested_too_deeply_is_a_problem_of_the_document(client, headers):
    sent = client.post("/api/flows/validate", json={"documents": {"main.json": DEEP}}, headers=headers)
    assert sent.status_code == 200, sent.json
    assert {
        "file": "main.json",
        "message": f"invalid JSON: arrays and objects nest deeper than {JSON_DEPTH} levels",
    } in [{"file": p["file"], "message": p["message"]} for p in sent.json["problems"]]


def test_a_draft_nested_too_deeply_is_kept_and_every_reader_copes(client, headers, app):
    based_on = app.extensions["ivr.flows"].current().id
    saved = client.put(
        "/api/flows/main.json/draft", json={"text": DEEP, "based_on": based_on}, headers=headers
    )
    assert saved.status_code < 300, saved.json
    assert client.get("/api/flows/drafts", headers=headers).status_code == 200
    assert client.get("/api/flows", headers=headers).status_code == 200
    tried = client.post("/api/flows/try", json={"document": "main.json"}, headers=headers)
    assert 400 <= tried.status_code < 500


def test_a_sync_cursor_nested_too_deeply_is_400(client, headers):
    cursor = base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")
    sent = client.get("/api/calls", query_string={"after": cursor}, headers=headers)
    assert message(sent, 400).endswith("is not a cursor of this API (give the `cursor` of a previous page)")
