"""The editor's JSON endpoints: the flow graph, and "Try it" through a draft, which leaves no trace."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session

from ivr.accounts.users import create_user
from ivr.models import FlowDraft, User

from ..conftest import SAMPLE_FLOWS
from ..helpers import call_row, event_kinds
from ..twilio import CallDriver, TwilioClient
from .test_web import PASSWORD, _login

MAIN = (SAMPLE_FLOWS / "main.json").read_text()


def _sign_in(client: FlaskClient, session: Session, role: str) -> FlaskClient:
    """The client signed in as a user with `role`, sending the CSRF header as the editor's fetches do."""
    create_user(session, role, PASSWORD)
    session.scalars(select(User).where(User.username == role)).one().role = role
    session.commit()
    assert _login(client, role, PASSWORD).status_code == 302
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', client.get("/", follow_redirects=True).data)
    assert token is not None
    client.environ_base["HTTP_X_CSRFTOKEN"] = token.group(1).decode()
    return client


@pytest.fixture
def published(app: Flask) -> None:
    """The sample folder published (the test app's store publishes it when first asked)."""
    with app.app_context():
        assert app.extensions["ivr.flows"].current() is not None


@pytest.fixture
def supervisor(client: FlaskClient, session: Session, published: None) -> FlaskClient:
    return _sign_in(client, session, "supervisor")


@pytest.fixture
def ops_user(client: FlaskClient, session: Session, published: None) -> FlaskClient:
    return _sign_in(client, session, "ops")


def _try(client: FlaskClient, **body: Any) -> Any:
    return client.post("/flows/try", json={"document": "main.json", "text": MAIN} | body)


def _row_counts(session: Session) -> dict[str, int]:
    """Every table's number of rows (the call log, status callbacks, rollups, versions, drafts...)."""
    meta = MetaData()
    meta.reflect(session.get_bind())
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in meta.sorted_tables
    }


def test_a_try_leaves_no_trace_in_the_database(supervisor, session, twilio: TwilioClient):
    real = CallDriver(twilio)  # a real call first, so the log and the rollups have rows to keep as they are
    real.press(real.start(), "1")
    twilio.status(real.sid, "completed", 9, CallDuration="30")
    before = _row_counts(session)
    assert before["calls"] and before["call_events"] and before["status_callbacks"]
    assert any(count for name, count in before.items() if name.startswith("rollup_"))

    for inputs in (
        [],
        [{"digits": "1"}, {"digits": "0"}],
        [{"digits": "2"}, {"digits": "3"}, {"digits": "1234567#"}],
    ):
        response = _try(supervisor, inputs=inputs, at="2026-12-07T10:30")
        assert response.status_code == 200, response.json
    after_hours = _try(supervisor, at="2026-12-07T22:00")  # voicemail: a recording, then a hang-up
    assert after_hours.json["ended"] is True
    opting_out = json.loads(MAIN)  # an effect: the caller's number on the do-not-call list
    opting_out["nodes"]["greeting"] = {"type": "opt_out", "prompt": "You will not be called again."}
    told = [e["what"] for e in _try(supervisor, text=json.dumps(opting_out)).json["events"]]
    assert told[-2:] == ["+15125550123 would go on the do-not-call list", "hangs up"]

    assert _row_counts(session) == before
    assert event_kinds(session, real.sid)[-1] != "node"  # the real call's log is as it was
    assert call_row(session, real.sid).status == "completed"


def test_the_try_answers_with_what_the_caller_heard_and_where_it_waits(supervisor):
    answer = _try(
        supervisor, inputs=[{"digits": "1"}], **{"from": "+15125550123"}, at="2026-12-07T10:30"
    ).json

    assert answer["waiting"] == "digits speech" and answer["ended"] is False
    assert [step["node"] for step in answer["path"]] == ["greeting", "open_check", "language", "main_menu"]
    assert answer["events"][-2]["what"].startswith("For billing, press 1.")
    assert {e["who"] for e in answer["events"]} == {"ivr", "caller", "system"}
    assert answer["problems"] == []


def test_the_text_in_the_editor_and_the_users_other_drafts_are_tried(supervisor, session):
    billing = {
        "name": "billing",
        "start": "hi",
        "nodes": {"hi": {"type": "hangup", "prompt": "Billing draft."}},
    }
    user = session.scalars(select(User).where(User.username == "supervisor")).one()
    session.add(FlowDraft(owner=f"user:{user.id}", document="billing.json", text=json.dumps(billing)))
    session.commit()
    main = json.loads(MAIN)
    main["nodes"]["to_billing"] = {"type": "goto", "flow": "billing"}

    answer = _try(supervisor, text=json.dumps(main), inputs=[{"digits": "1"}, {"digits": "1"}]).json

    assert answer["path"][-1] == {"flow": "billing", "node": "hi"}
    assert [e["what"] for e in answer["events"] if e["kind"] == "say"][-1] == "Billing draft."
    assert _try(supervisor, document="billing.json", text=json.dumps(billing)).status_code == 200


def test_a_draft_with_errors_places_no_call(supervisor):
    answer = _try(supervisor, text=MAIN.replace('"next": "open_check"', '"next": "nowhere"')).json

    assert answer["events"] == []
    assert any(p["node"] == "greeting" and p["field"] == "next" for p in answer["problems"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "send a JSON object"),
        ([1, 2], "send a JSON object"),
        ({"text": MAIN}, "document:"),
        ({"document": "../main.json", "text": MAIN}, "document:"),
        ({"document": "main.json"}, "text:"),
        ({"document": "other.json", "text": MAIN}, "other.json is neither published nor one of your drafts"),
        ({"document": "main.json", "text": MAIN, "at": "half past ten"}, "at:"),
        ({"document": "main.json", "text": MAIN, "from": "my phone"}, "from:"),
        ({"document": "main.json", "text": MAIN, "inputs": [{"digits": "1"}] * 51}, "at most 50 answers"),
        ({"document": "main.json", "text": MAIN, "inputs": [{"digits": "x"}]}, "inputs[0]"),
    ],
)
def test_bad_tries_are_a_400_saying_why(supervisor, body, message):
    if isinstance(body, str):
        response = supervisor.post("/flows/try", data=body, content_type="application/json")
    else:
        response = supervisor.post("/flows/try", json=body)

    assert response.status_code == 400
    assert message in response.json["error"]


def test_the_graph_of_the_editors_text_with_its_problem_nodes(ops_user):
    text = MAIN.replace('"next": "open_check"', '"next": "nowhere"')

    graph = ops_user.post("/flows/graph", json={"document": "main.json", "text": text}).json

    assert graph["problem_nodes"] == ["greeting"]
    assert "open_check" in graph["warning_nodes"]  # unreachable now: a warning
    assert graph["dangling"] == [{"from": "greeting", "to": "nowhere", "label": ""}]
    assert {n["id"] for n in graph["nodes"] if n["unreachable"]} >= {"open_check", "language"}
    assert graph["invalid"] is None


@pytest.mark.parametrize(("document", "text"), [("main.json", '{"nodes": {'), ("site.json", "{}")])
def test_what_is_not_a_flow_draws_no_graph(ops_user, document, text):
    graph = ops_user.post("/flows/graph", json={"document": document, "text": text}).json

    assert graph["nodes"] == [] and graph["edges"] == []
    assert (graph["invalid"] or "").startswith("invalid JSON") is (document == "main.json")


def test_bad_graph_requests_are_a_400(ops_user):
    response = ops_user.post("/flows/graph", json={"document": "main.json"})

    assert response.status_code == 400
    assert response.json == {"error": "text: the document's JSON text, as a string"}


def test_ops_may_see_the_graph_but_not_try(ops_user):
    assert _try(ops_user).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(client, published):
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").data)
    assert token is not None
    client.environ_base["HTTP_X_CSRFTOKEN"] = token.group(1).decode()

    assert _try(client).status_code == 302
    assert client.post("/flows/graph", json={"document": "main.json", "text": MAIN}).status_code == 302


def test_a_try_needs_the_pages_csrf_token(supervisor):
    del supervisor.environ_base["HTTP_X_CSRFTOKEN"]

    assert _try(supervisor).status_code == 400
