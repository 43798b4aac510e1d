"""POST /api/flows/try: a simulated call through a draft for machines (answers checked by the OpenAPI)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token, digest
from ivr.models import ApiToken, FlowDraft

from ..conftest import SAMPLE_FLOWS

MAIN = (SAMPLE_FLOWS / "main.json").read_text()


def _token(session, role: str) -> dict[str, str]:
    value = create_token(session, role)
    session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(value))).one().role = role
    session.commit()
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def supervisor(app, session) -> dict[str, str]:
    with app.app_context():
        assert app.extensions["ivr.flows"].current() is not None  # the sample folder, published
    return _token(session, "supervisor")


def test_a_try_over_the_tokens_drafts(client, session, supervisor):
    owner = f"token:{session.scalars(select(ApiToken.id)).one()}"
    greeting = json.loads(MAIN)
    greeting["nodes"]["greeting"]["prompt"] = "Hello from a draft."
    session.add(FlowDraft(owner=owner, document="main.json", text=json.dumps(greeting)))
    session.commit()
    body = {"document": "main.json", "text": MAIN, "inputs": [{"digits": "1"}], "at": "2026-12-07T10:30"}

    answer = client.post("/api/flows/try", json=body, headers=supervisor).json

    assert answer["path"][-1] == {"flow": "main", "node": "main_menu"}
    assert answer["waiting"] == "digits speech"
    assert answer["events"][0]["what"].startswith("Thank you for calling")  # the text sent, not the draft
    site = json.loads((SAMPLE_FLOWS / "site.json").read_text())
    site["timezone"] = "Asia/Manila"  # a draft of another document is taken too
    session.add(FlowDraft(owner=owner, document="site.json", text=json.dumps(site)))
    session.commit()
    assert client.post("/api/flows/try", json=body, headers=supervisor).json["timezone"] == "Asia/Manila"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"document": "main.json"}, "text:"),
        ({"document": "nope.json", "text": MAIN}, "nope.json is neither published nor one of your drafts"),
        ({"document": "main.json", "text": MAIN, "at": "noon"}, "at:"),
    ],
)
def test_bad_tries_are_a_400_with_the_reason(client, supervisor, body, message):
    response = client.post("/api/flows/try", json=body, headers=supervisor)

    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert message in response.json["error"]["message"]


def test_trying_needs_a_token_that_may_edit_flows(client, session):
    body = {"document": "main.json", "text": MAIN}

    assert client.post("/api/flows/try", json=body).status_code == 401
    assert client.post("/api/flows/try", json=body, headers=_token(session, "ops")).status_code == 403
