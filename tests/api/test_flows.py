"""The flows API: read any version, drafts per token, validate, publish (201, 409 with what changed meanwhile,
422 with every problem), history, diff and rollback; view_flows to read, edit_flows to change. Every answer
is checked against ivr/api/openapi.json by the `app` fixture."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token
from ivr.models import ApiToken, AuditEntry, SiteVersion


def _bearer(session, name: str, role: str, desk: str | None = None) -> dict[str, str]:
    token = create_token(session, name, desk)
    session.flush()
    session.scalars(select(ApiToken).where(ApiToken.name == name)).one().role = role
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def published(app) -> int:
    """The sample folder published as the first version; its id."""
    with app.app_context():
        return app.extensions["ivr.flows"].published().id


@pytest.fixture
def editor(session, published) -> dict[str, str]:
    return _bearer(session, "editor", "supervisor")


@pytest.fixture
def viewer(session, published) -> dict[str, str]:
    return _bearer(session, "viewer", "ops")


def _main(client, headers, **params) -> str:
    answer = client.get("/api/flows/main.json", headers=headers, query_string=params)
    assert answer.status_code == 200, answer.json
    return answer.json["text"]


def _greeting(text: str, prompt: str) -> str:
    data = json.loads(text)
    data["nodes"]["greeting"]["prompt"] = prompt
    return json.dumps(data, indent=2) + "\n"


def _broken(text: str) -> str:
    data = json.loads(text)
    data["nodes"]["greeting"]["next"] = "nowhere"
    return json.dumps(data, indent=2) + "\n"


def _publish(client, headers, note: str, based_on: int | None, **documents: str):
    body = {"note": note, "based_on": based_on, "documents": {f"{k}.json": v for k, v in documents.items()}}
    return client.post("/api/flows/publish", json=body, headers=headers)


def test_the_newest_version_and_its_documents(client, viewer, published):
    answer = client.get("/api/flows", headers=viewer).json
    assert answer["version"]["id"] == published
    assert [d["document"] for d in answer["documents"]] == ["site.json", "main.json"]
    assert json.loads(_main(client, viewer))["name"] == "main"


def test_publish_makes_a_version_with_its_note_summary_and_audit(client, editor, session, published):
    text = _greeting(_main(client, editor), "Hello from the API.")
    answer = _publish(client, editor, "API greeting", published, main=text)
    assert answer.status_code == 201
    version = answer.json["version"]
    assert version["note"] == "API greeting" and version["published_by"] == "token:editor"
    assert version["based_on"] == published and version["source"] == "api"
    assert _main(client, editor) == text  # byte for byte what was sent
    assert _main(client, editor, version=published) != text
    entry = session.scalars(select(AuditEntry).where(AuditEntry.target == f"version {version['id']}")).one()
    assert (entry.action, entry.actor) == ("flows.publish", "token:editor")


def test_publish_refuses_errors_with_every_problem(client, editor, session, published):
    answer = _publish(client, editor, "broken", published, main=_broken(_main(client, editor)))
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["code"] == "unprocessable"
    assert any(p["node"] == "greeting" and p["field"] == "next" for p in error["problems"])
    assert session.scalars(select(SiteVersion.id)).all() == [published]


def test_a_publish_over_a_change_made_meanwhile_is_refused_with_its_diff(
    app, client, editor, session, published
):
    other = _bearer(session, "other", "supervisor")
    text = _main(client, editor)
    assert _publish(client, editor, "first", published, main=_greeting(text, "First.")).status_code == 201
    answer = _publish(client, other, "second", published, main=_greeting(text, "Second."))
    assert answer.status_code == 409
    conflict = answer.json["error"]["conflicts"][0]
    assert conflict["document"] == "main.json" and "+" in conflict["diff"] and "First." in conflict["diff"]
    assert session.scalars(select(SiteVersion.note).order_by(SiteVersion.id.desc())).first() == "first"


def test_publishing_nothing_new_is_refused(client, editor, published):
    answer = _publish(client, editor, "same", published, main=_main(client, editor))
    assert answer.status_code == 409


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"documents": {"main.json": "{}"}}, "note"),
        ({"note": " ", "documents": {"main.json": "{}"}}, "note"),
        ({"note": "x", "documents": {"../x.json": "{}"}}, "document"),
        ({"note": "x", "documents": {"main.json": 5}}, "documents"),
        ({"note": "x", "based_on": "one", "documents": {"main.json": "{}"}}, "based_on"),
        ({"note": "x", "documents": {"main.json": "{}"}}, "based_on"),  # never silently over the newest
    ],
)
def test_a_bad_publish_body_says_what_is_wrong(client, editor, body, word):
    answer = client.post("/api/flows/publish", json=body, headers=editor)
    assert answer.status_code in (400, 404) and word in answer.json["error"]["message"]


def test_drafts_are_kept_per_token_and_published_together(client, editor, session, published):
    text = _greeting(_main(client, editor), "Draft greeting.")
    put = client.put("/api/flows/main.json/draft", json={"text": text, "based_on": published}, headers=editor)
    assert put.status_code == 200 and put.json["draft"]["stale"] is False
    other = _bearer(session, "other", "supervisor")
    assert client.get("/api/flows/drafts", headers=other).json["drafts"] == []
    drafts = client.get("/api/flows/drafts", headers=editor).json["drafts"]
    assert [(d["document"], d["text"]) for d in drafts] == [("main.json", text)]
    answer = client.post("/api/flows/publish", json={"note": "from drafts"}, headers=editor)
    assert answer.status_code == 201
    assert _main(client, editor) == text
    assert client.get("/api/flows/drafts", headers=editor).json["drafts"] == []


def test_a_draft_goes_stale_when_someone_publishes_the_document(client, editor, session, published):
    text = _main(client, editor)
    client.put(
        "/api/flows/main.json/draft",
        json={"text": _greeting(text, "Mine."), "based_on": published},
        headers=editor,
    )
    other = _bearer(session, "other", "supervisor")
    assert _publish(client, other, "theirs", published, main=_greeting(text, "Theirs.")).status_code == 201
    assert client.get("/api/flows/drafts", headers=editor).json["drafts"][0]["stale"] is True


def test_deleting_a_draft(client, editor, published):
    client.put("/api/flows/main.json/draft", json={"text": "{}", "based_on": published}, headers=editor)
    assert client.delete("/api/flows/main.json/draft", headers=editor).json == {"discarded": "main.json"}
    assert client.delete("/api/flows/main.json/draft", headers=editor).status_code == 404


def test_validate_lists_errors_and_warnings_without_publishing(client, editor, published):
    text = _main(client, editor)
    good = client.post("/api/flows/validate", json={"documents": {"main.json": text}}, headers=editor).json
    assert good["valid"] is True and all(p["severity"] == "warning" for p in good["problems"])
    bad = client.post("/api/flows/validate", json={"documents": {"main.json": _broken(text)}}, headers=editor)
    assert bad.json["valid"] is False
    assert {(p["node"], p["field"], p["severity"]) for p in bad.json["problems"]} >= {
        ("greeting", "next", "error")
    }


def test_history_diff_and_rollback(client, editor, session, published):
    text = _main(client, editor)
    second = _publish(client, editor, "second", published, main=_greeting(text, "Second.")).json["version"][
        "id"
    ]
    versions = client.get("/api/flows/history", headers=editor).json["versions"]
    assert [v["id"] for v in versions] == [second, published]
    assert [v["id"] for v in client.get("/api/flows/history?limit=1", headers=editor).json["versions"]] == [
        second
    ]
    diff = client.get(f"/api/flows/diff?a={published}&b={second}", headers=editor).json
    changed = {d["document"]: d for d in diff["documents"]}
    assert changed["main.json"]["status"] == "changed" and "+" in changed["main.json"]["unified"]
    assert changed["site.json"] == {"document": "site.json", "status": "same", "unified": ""}
    one = client.get(f"/api/flows/diff?a={published}&b={second}&document=main.json", headers=editor).json
    assert [d["document"] for d in one["documents"]] == ["main.json"]
    back = client.post("/api/flows/rollback", json={"version": published, "note": "undo"}, headers=editor)
    assert back.status_code == 201
    assert back.json["version"]["rolled_back_from"] == published and back.json["version"]["note"] == "undo"
    assert _main(client, editor) == text
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "flows.rollback")).one()
    assert (entry.actor, entry.target) == ("token:editor", f"version {back.json['version']['id']}")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/flows/nosuch.json", None, 404),
        ("get", "/api/flows/main.json?version=99999", None, 404),
        ("get", "/api/flows/main.json?version=x", None, 400),
        ("get", "/api/flows/diff?a={v}", None, 400),
        ("get", "/api/flows/diff?a={v}&b=99999", None, 404),
        ("get", "/api/flows/history?limit=0", None, 400),
        ("post", "/api/flows/rollback", {"version": 99999, "note": "x"}, 404),
        ("post", "/api/flows/rollback", {"version": "{v}"}, 400),
        ("post", "/api/flows/validate", {"documents": {}}, 400),
        (
            "post",
            "/api/flows/publish",
            {"note": "x", "based_on": 99999, "documents": {"main.json": "{}"}},
            404,
        ),
        ("put", "/api/flows/main.json/draft", {"based_on": "{v}"}, 400),
        ("put", "/api/flows/main.json/draft", {"text": "{}"}, 400),
    ],
)
def test_bad_requests_are_refused_with_a_reason(client, editor, published, method, path, body, status):
    path = path.replace("{v}", str(published))
    body = {k: published if v == "{v}" else v for k, v in body.items()} if body else body
    answer = getattr(client, method)(path, json=body, headers=editor)
    assert answer.status_code == status and answer.json["error"]["message"]
    if body and "text" in body and "based_on" not in body:
        assert "based_on" in answer.json["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/flows/publish", {"note": "x"}),
        ("post", "/api/flows/rollback", {"version": "{v}", "note": "x"}),
        ("put", "/api/flows/main.json/draft", {"text": "{}", "based_on": "{v}"}),
        ("delete", "/api/flows/main.json/draft", None),
        ("get", "/api/flows/drafts", None),
        ("post", "/api/flows/validate", {"documents": {"main.json": "{}"}}),
    ],
)
def test_an_ops_token_reads_but_cannot_change_flows(client, viewer, session, published, method, path, body):
    assert client.get("/api/flows/history", headers=viewer).status_code == 200
    body = {k: published if v == "{v}" else v for k, v in body.items()} if body else None
    answer = getattr(client, method)(path, json=body, headers=viewer)
    assert answer.status_code == 403
    assert session.scalars(select(SiteVersion.id)).all() == [published]


def test_partners_and_strangers_are_refused(client, session, published):
    assert client.get("/api/flows").status_code == 401
    partner = _bearer(session, "acme", "partner", desk="bpo")
    assert client.get("/api/flows", headers=partner).status_code == 403


def test_whole_sites_larger_than_other_requests_are_accepted(app, client, editor, published):
    text = _greeting(_main(client, editor), "Long. " * 20_000)  # ~120 KB: over MAX_CONTENT_LENGTH (64 KiB)
    assert len(text.encode()) > app.config["MAX_CONTENT_LENGTH"]
    answer = client.post("/api/flows/validate", json={"documents": {"main.json": text}}, headers=editor)
    assert answer.status_code == 200 and answer.json["valid"] is True
    huge = {"documents": {"main.json": "x" * (1024 * 1024 + 1)}}
    assert client.post("/api/flows/validate", json=huge, headers=editor).status_code == 413
