"""Pages given numbers the database cannot hold answer 404 or 400, never 500: ids in the path, a page, a
version in a form or a query."""

from __future__ import annotations

import pytest

from ivr.bounds import BIGINT_MAX, INT_MAX

from .test_flows import _post, published, supervisor  # noqa: F401 (fixtures)

HUGE = [str(INT_MAX + 1), str(BIGINT_MAX + 1), "9" * 40]


@pytest.mark.parametrize("ref", HUGE)
def test_a_campaign_id_too_big_for_the_database_is_404(supervisor, ref):  # noqa: F811
    assert supervisor.get(f"/campaigns/{ref}").status_code == 404
    assert _post(supervisor, f"/campaigns/{ref}/start", "/flows/history").status_code == 404


@pytest.mark.parametrize("ref", HUGE)
def test_a_version_too_big_for_the_database_is_404_or_400(supervisor, ref):  # noqa: F811
    assert supervisor.get(f"/flows/versions/{ref}/main.json").status_code == 404
    assert supervisor.get("/flows/diff", query_string={"a": "1", "b": ref}).status_code == 400
    rolled = _post(supervisor, "/flows/rollback", "/flows/history", version=ref, note="undo")
    assert rolled.status_code == 400
    rebased = _post(supervisor, "/flows/rebase/main.json", "/flows/edit/main.json", version=ref)
    assert rebased.status_code == 404


@pytest.mark.parametrize("page", [str(10**18), str(INT_MAX + 1), "²"])
def test_an_audit_page_past_any_offset_is_400(app, session, page):
    from .test_flows import _signed_in

    admin = _signed_in(app, session, "root", "admin")
    assert admin.get("/audit", query_string={"page": page}).status_code == 400


DEEP = "[" * 5_000 + "]" * 5_000  # past the interpreter's stack: json.loads raises RecursionError


def test_json_nested_too_deeply_to_the_editor_is_400_or_a_problem(app, session, client):
    from .test_trial import _sign_in

    with app.app_context():
        assert app.extensions["ivr.flows"].current() is not None
    editor = _sign_in(client, session, "supervisor")
    body = editor.post("/flows/graph", data=DEEP, content_type="application/json")
    assert (body.status_code, body.json) == (
        400,
        {"error": "send a JSON object with Content-Type: application/json"},
    )
    graph = editor.post("/flows/graph", json={"document": "main.json", "text": DEEP})
    assert graph.status_code == 200
    assert graph.json["invalid"] == "invalid JSON: arrays and objects nest deeper than 64 levels"
