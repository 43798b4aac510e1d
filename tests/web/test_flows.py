"""The flows workspace in the browser, without its script: the list, drafts, validate with every problem on
its node and field, publish with a note, the conflict page, history, diffs, rollback, and who may do what."""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import func, select

from ivr.accounts.users import create_user
from ivr.flows.history import version_texts
from ivr.models import AuditEntry, FlowDraft, SiteVersion

from .test_web import PASSWORD, _csrf, _login


def _signed_in(app, session, name: str, role: str) -> FlaskClient:
    """A new browser-like client signed in as a new user with this role."""
    user = create_user(session, name, PASSWORD)
    user.role = role
    session.commit()
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    assert _login(client, name, PASSWORD).status_code == 302
    return client


@pytest.fixture
def published(app) -> int:
    """The sample folder published as the first version; its id."""
    with app.app_context():
        return app.extensions["ivr.flows"].published().id


@pytest.fixture
def supervisor(app, session, published) -> FlaskClient:
    return _signed_in(app, session, "sam", "supervisor")


@pytest.fixture
def ops(app, session, published) -> FlaskClient:
    return _signed_in(app, session, "olga", "ops")


def c(name: str) -> str:
    """An XPath test: the element has this class."""
    return f"contains(concat(' ', @class, ' '), ' {name} ')"


def _page(response) -> html.HtmlElement:
    return html.fromstring(response.data)


def _main_text(client: FlaskClient) -> str:
    return _page(client.get("/flows/edit/main.json")).get_element_by_id("source").text_content()


def _broken(text: str) -> str:
    """main.json with the greeting sent to a node that does not exist."""
    data = json.loads(text)
    data["nodes"]["greeting"]["next"] = "nowhere"
    return json.dumps(data, indent=2) + "\n"


def _reworded(text: str, prompt: str) -> str:
    data = json.loads(text)
    data["nodes"]["greeting"]["prompt"] = prompt
    return json.dumps(data, indent=2) + "\n"


def _post(client: FlaskClient, path: str, page_path: str, **form: str):
    """Post a form of the page at page_path, with its CSRF token."""
    token = _csrf(client.get(page_path).data)
    return client.post(path, data={"csrf_token": token, **form})


def _edit(client: FlaskClient, action: str, text: str, **form: str):
    return _post(client, "/flows/edit/main.json", "/flows/", action=action, text=text, **form)


def _newest(session) -> SiteVersion:
    return session.scalars(select(SiteVersion).order_by(SiteVersion.id.desc())).first()


def test_the_list_shows_the_site_and_each_flow_with_the_live_version(supervisor, published):
    page = _page(supervisor.get("/flows/"))
    rows = page.xpath(f"//table[{c('documents')}]/tbody/tr")
    assert [row.get("data-document") for row in rows] == ["site.json", "main.json"]
    assert f"version {published}" in page.xpath(f"//*[{c('version-line')}]")[0].text_content()
    assert page.xpath("//header//nav/a[@href='/flows/']")
    assert page.xpath(f"//form[{c('new-flow')}]")


def test_a_broken_flow_lists_its_problem_on_the_node_and_field_and_keeps_the_draft(supervisor, session):
    text = _broken(_main_text(supervisor))
    response = _edit(supervisor, "validate", text)
    assert response.status_code == 200
    page = _page(response)
    links = page.xpath(f"//ul[@id='problems']/li[{c('problem')} and {c('error')}]/a")
    assert any(a.get("data-node") == "greeting" and a.get("data-field") == "next" for a in links), [
        a.text_content() for a in links
    ]
    assert all(a.get("href") == "#source" for a in links)
    assert page.get_element_by_id("source").text_content() == text
    drafts = session.scalars(select(FlowDraft)).all()
    assert [(d.document, d.text) for d in drafts] == [("main.json", text)]
    listing = _page(supervisor.get("/flows/"))
    assert (
        "draft saved" in listing.xpath(f"//tr[@data-document='main.json']/td[{c('draft')}]")[0].text_content()
    )


def test_publish_needs_a_note_and_refuses_errors(supervisor, session, published):
    text = _main_text(supervisor)
    no_note = _edit(supervisor, "publish", _reworded(text, "Hi."))
    assert no_note.status_code == 422
    assert "note" in _page(no_note).xpath(f"//p[{c('refused')}]")[0].text_content()
    broken = _edit(supervisor, "publish", _broken(text), note="try")
    assert broken.status_code == 422
    assert _page(broken).xpath(
        f"//ul[@id='problems']/li[{c('problem')} and {c('error')}]/a[@data-node='greeting']"
    )
    assert _newest(session).id == published  # nothing published
    assert session.scalar(select(func.count()).select_from(FlowDraft)) == 1  # the draft is kept


def test_publish_with_a_note_makes_a_version_callers_hear(app, supervisor, session, published):
    text = _reworded(_main_text(supervisor), "Welcome to the new line.")
    response = _edit(supervisor, "publish", text, note="New greeting")
    assert response.status_code == 302 and response.headers["Location"].endswith("/flows/history")
    newest = _newest(session)
    assert newest.id > published and newest.note == "New greeting" and newest.published_by == "sam"
    assert session.scalar(select(func.count()).select_from(FlowDraft)) == 0
    history = _page(supervisor.get("/flows/history"))
    first = history.xpath(f"//table[{c('versions')}]/tbody/tr")[0]
    assert first.get("data-version") == str(newest.id)
    assert "New greeting" in first.xpath(f".//td[{c('note')}]")[0].text_content()
    audit = session.scalars(select(AuditEntry).where(AuditEntry.target == f"version {newest.id}")).one()
    assert (audit.action, audit.actor, audit.details["note"]) == ("flows.publish", "sam", "New greeting")


def test_a_second_publish_of_the_same_flow_shows_what_changed_meanwhile(app, session, supervisor, published):
    other = _signed_in(app, session, "tina", "supervisor")
    text = _main_text(supervisor)
    assert _main_text(other) == text
    assert _edit(other, "save", _reworded(text, "Tina's greeting.")).status_code == 302
    assert _edit(supervisor, "publish", _reworded(text, "Sam's greeting."), note="Sam").status_code == 302
    refused = _edit(other, "publish", _reworded(text, "Tina's greeting."), note="Tina")
    assert refused.status_code == 409
    page = _page(refused)
    conflict = page.xpath("//article[@data-document='main.json']")[0]
    assert "Sam's greeting." in conflict.text_content()  # their change, shown before anything is overwritten
    assert _newest(session).note == "Sam"
    assert session.scalars(select(FlowDraft.text)).one() == _reworded(text, "Tina's greeting.")
    stale = _page(other.get("/flows/"))
    assert stale.xpath(f"//tr[@data-document='main.json']//*[{c('stale')}]")
    version = conflict.xpath(".//form//input[@name='version']")[0].get("value")
    rebased = _post(other, "/flows/rebase/main.json", "/flows/", version=version)
    assert rebased.status_code == 302
    kept = _page(other.get("/flows/edit/main.json")).get_element_by_id("source").text_content()
    assert _edit(other, "publish", kept, note="Tina, after reading Sam's").status_code == 302
    assert _newest(session).note == "Tina, after reading Sam's"


def test_discarding_a_draft_shows_the_published_text_again(supervisor, session):
    text = _main_text(supervisor)
    _edit(supervisor, "save", _reworded(text, "Draft."))
    assert _post(supervisor, "/flows/discard/main.json", "/flows/").status_code == 302
    assert session.scalar(select(func.count()).select_from(FlowDraft)) == 0
    assert _main_text(supervisor) == text


def test_roll_back_publishes_the_old_content_as_a_new_version(supervisor, session, published):
    original = _main_text(supervisor)
    _edit(supervisor, "publish", _reworded(original, "Changed."), note="change")
    response = _post(
        supervisor, "/flows/rollback", "/flows/history", version=str(published), note="the change was wrong"
    )
    assert response.status_code == 302
    newest = _newest(session)
    assert newest.rolled_back_from == published and newest.note == "the change was wrong"
    assert _main_text(supervisor) == original
    row = _page(supervisor.get("/flows/history")).xpath(f"//table[{c('versions')}]/tbody/tr")[0]
    assert f"rollback to version {published}" in row.text_content()


def test_history_rollback_needs_a_note(supervisor, session, published):
    _edit(supervisor, "publish", _reworded(_main_text(supervisor), "Changed."), note="change")
    before = _newest(session).id
    _post(supervisor, "/flows/rollback", "/flows/history", version=str(published), note=" ")
    assert _newest(session).id == before


@pytest.mark.parametrize("view", ["split", "unified"])
def test_the_diff_of_two_versions_shows_the_changed_lines(supervisor, session, published, view):
    _edit(supervisor, "publish", _reworded(_main_text(supervisor), "Brand new words."), note="words")
    newest = _newest(session).id
    page = _page(supervisor.get(f"/flows/diff?a={published}&b={newest}&view={view}"))
    sections = page.xpath(f"//section[{c('document-diff')}]")
    assert [s.get("data-document") for s in sections] == ["main.json"]  # site.json is the same
    if view == "split":
        inserted = " ".join(
            td.text_content()
            for td in page.xpath(f"//table[{c('diff')}]//tr[{c('replace')} or {c('insert')}]/td[{c('new')}]")
        )
    else:
        inserted = " ".join(
            span.text_content() for span in page.xpath(f"//pre[{c('diff')}]/span[{c('insert')}]")
        )
    assert "Brand new words." in inserted
    one = _page(supervisor.get(f"/flows/diff?a={published}&b={newest}&view={view}&document=site.json"))
    assert one.xpath(f"//section[{c('document-diff')}][@data-status='same']")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/flows/diff?a=1", 400), ("/flows/diff?a=1&b=99999", 404), ("/flows/diff?a=1&b=1&view=wide", 400)],
)
def test_a_bad_diff_request_says_what_is_wrong(supervisor, published, path, status):
    assert (
        supervisor.get(path.replace("a=1", f"a={published}").replace("b=1", f"b={published}")).status_code
        == status
    )


def test_a_version_shows_each_document_read_only(ops, published):
    page = _page(ops.get(f"/flows/versions/{published}/main.json"))
    assert json.loads(page.get_element_by_id("source").text_content())["name"] == "main"
    assert ops.get(f"/flows/versions/{published}/nosuch.json").status_code == 404
    assert ops.get("/flows/versions/99999/main.json").status_code == 404


def test_a_new_flow_starts_as_a_valid_draft(supervisor, session):
    response = _post(supervisor, "/flows/new", "/flows/", name="billing_line")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/flows/edit/billing_line.json"
    )
    page = _page(supervisor.get("/flows/edit/billing_line.json"))
    assert json.loads(page.get_element_by_id("source").text_content())["name"] == "billing_line"
    assert not page.xpath(f"//ul[@id='problems']/li[{c('error')}]")
    again = _post(supervisor, "/flows/new", "/flows/", name="billing_line")
    assert "already exists" in _page(supervisor.get("/flows/")).text_content() and again.status_code == 302


def test_the_editor_has_the_hooks_its_script_uses(supervisor):
    page = _page(supervisor.get("/flows/edit/main.json"))
    workspace = page.get_element_by_id("workspace")
    assert workspace.get("data-document") == "main.json" and workspace.get("data-kind") == "flow"
    for name in ("schema", "check", "graph", "try", "names"):
        assert workspace.get(f"data-{name}-url").startswith("/flows/"), name
    form = page.get_element_by_id("draft-form")
    assert form.xpath(".//textarea[@id='source'][@name='text']") and form.xpath(".//input[@name='note']")
    assert {b.get("value") for b in form.xpath(".//button[@name='action']")} == {
        "save",
        "validate",
        "publish",
    }
    assert page.xpath("//div[@id='graph']") and page.xpath("//section[@id='try'][@data-try-url]")
    published = page.xpath("//textarea[@id='published'][@hidden]")[0]
    assert published.text_content() == form.xpath(".//textarea")[0].text_content()  # no draft yet
    assert published.get("name") is None  # never posted with the form
    assert page.xpath("//head/meta[@name='csrf-token']")[0].get("content")
    assert page.xpath("//head/script[@src='/static/web/build/editor.js'][@defer]")
    assert not _page(supervisor.get("/flows/")).xpath(
        "//script[contains(@src, 'editor')]"
    )  # only on editor pages


def test_the_check_endpoint_answers_the_problems_of_a_text(supervisor):
    page = _page(supervisor.get("/flows/edit/main.json"))
    token = page.xpath("//meta[@name='csrf-token']")[0].get("content")
    text = _broken(page.get_element_by_id("source").text_content())
    answer = supervisor.post("/flows/check/main.json", json={"text": text}, headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    found = {(p["file"], p["node"], p["field"], p["severity"]) for p in answer.json["problems"]}
    assert ("main.json", "greeting", "next", "error") in found, found
    without = supervisor.post("/flows/check/main.json", json={"text": text})
    assert without.status_code == 400  # no CSRF token
    assert (
        supervisor.post("/flows/check/main.json", json={}, headers={"X-CSRFToken": token}).status_code == 400
    )


@pytest.mark.parametrize("kind", ["flow", "site"])
def test_the_schemas_are_served_for_the_editor(ops, kind):
    answer = ops.get(f"/flows/schema/{kind}.json")
    assert answer.status_code == 200 and "properties" in json.loads(answer.data)


def test_names_for_completion_come_from_the_site_and_flows(supervisor):
    answer = supervisor.get("/flows/names").json
    assert answer["flows"] == ["main"] and {"local", "bpo"} <= set(answer["desks"]) and answer["schedules"]


def test_ops_sees_flows_and_history_but_cannot_change_them(ops, published):
    listing = _page(ops.get("/flows/"))
    assert listing.xpath("//tr[@data-document='main.json']//a[starts-with(@href, '/flows/versions/')]")
    assert not listing.xpath(f"//a[starts-with(@href, '/flows/edit/')] | //form[{c('new-flow')}]")
    history = _page(ops.get("/flows/history"))
    assert history.xpath(f"//table[{c('versions')}]/tbody/tr") and not history.xpath(
        f"//form[{c('rollback')}]"
    )
    assert ops.get("/flows/edit/main.json").status_code == 403
    for path, form in [
        ("/flows/edit/main.json", {"action": "publish", "text": "{}", "note": "x"}),
        ("/flows/rollback", {"version": str(published), "note": "x"}),
        ("/flows/new", {"name": "x"}),
        ("/flows/publish", {"note": "x"}),
        ("/flows/discard/main.json", {}),
    ]:
        assert _post(ops, path, "/flows/", **form).status_code == 403, path


def test_partners_and_strangers_do_not_see_flows(app, client, session, published):
    assert client.get("/flows/").status_code == 302  # to sign in
    create_user(session, "acme", PASSWORD, "bpo").role = "partner"
    session.commit()
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    _login(client, "acme", PASSWORD)
    assert client.get("/flows/").status_code == 403
    assert not _page(client.get("/")).xpath("//header//nav/a[@href='/flows/']")


def test_pages_carry_a_content_security_policy(supervisor):
    for path in ("/flows/", "/flows/edit/main.json", "/", "/login", "/flows/edit/nosuch.json"):
        policy = supervisor.get(path).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "object-src 'none'" in policy, path
        assert "frame-ancestors 'none'" in policy and "default-src" not in policy


def test_no_template_has_inline_script_or_event_handlers(app):
    """script-src 'self' would block them: every script is a file, every handler is bound by a script."""
    folder = app.blueprints["web"].jinja_loader.searchpath[0]
    loader = app.jinja_env.loader
    for name in loader.list_templates():
        source = loader.get_source(app.jinja_env, name)[0]
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), (folder, name)
        assert not re.search(r"\son[a-z]+\s*=", source), name
        assert "javascript:" not in source.lower(), name


def test_publish_all_my_drafts_at_once(supervisor, session, published):
    _post(supervisor, "/flows/new", "/flows/", name="billing_line")
    _edit(supervisor, "save", _reworded(_main_text(supervisor), "Both at once."))
    listing = _page(supervisor.get("/flows/"))
    assert listing.xpath(f"//form[{c('publish-all')}]")
    response = _post(supervisor, "/flows/publish", "/flows/", note="a new line and a new greeting")
    assert response.status_code == 302
    newest = _newest(session)
    assert newest.note == "a new line and a new greeting"
    assert session.scalar(select(func.count()).select_from(FlowDraft)) == 0
    documents = _page(supervisor.get("/flows/")).xpath(f"//table[{c('documents')}]/tbody/tr/@data-document")
    assert documents == ["site.json", "billing_line.json", "main.json"]
    assert "Both at once." in _main_text(supervisor)


def _save(client: FlaskClient, document: str, text: str):
    return _post(client, f"/flows/edit/{document}", "/flows/", action="save", text=text)


def test_the_editor_checks_what_its_publish_publishes_not_my_other_drafts(supervisor, session, published):
    assert _save(supervisor, "site.json", "{not json").status_code == 302  # another draft, broken
    text = _reworded(_main_text(supervisor), "Checked alone.")
    page = _page(_edit(supervisor, "validate", text))
    assert not page.xpath(f"//ul[@id='problems']/li[{c('error')}]") and page.xpath(f"//p[{c('valid')}]")
    assert "Publish all my drafts" in page.xpath(f"//p[{c('scope')}]")[0].text_content()
    token = page.xpath("//meta[@name='csrf-token']")[0].get("content")
    checked = supervisor.post("/flows/check/main.json", json={"text": text}, headers={"X-CSRFToken": token})
    assert [p for p in checked.json["problems"] if p["severity"] == "error"] == []
    assert _edit(supervisor, "publish", text, note="alone").status_code == 302  # as the check said
    assert _newest(session).id > published and "Checked alone." in _main_text(supervisor)


def _new_published_flow(supervisor, name: str) -> None:
    assert _post(supervisor, "/flows/new", "/flows/", name=name).status_code == 302
    text = _page(supervisor.get(f"/flows/edit/{name}.json")).get_element_by_id("source").text_content()
    response = _post(
        supervisor, f"/flows/edit/{name}.json", "/flows/", action="publish", text=text, note=f"add {name}"
    )
    assert response.status_code == 302


def test_delete_this_flow_is_a_draft_published_with_a_note(supervisor, session, published):
    _new_published_flow(supervisor, "promo")
    page = _page(supervisor.get("/flows/edit/promo.json"))
    assert page.xpath(f"//form[{c('delete-flow')}]//button")
    deleted = _post(supervisor, "/flows/delete/promo.json", "/flows/edit/promo.json")
    assert deleted.status_code == 302
    draft = session.scalars(select(FlowDraft).where(FlowDraft.document == "promo.json")).one()
    assert draft.text is None
    editor = _page(supervisor.get("/flows/edit/promo.json"))
    assert editor.xpath(f"//p[{c('removal')}]") and not editor.xpath(f"//form[{c('delete-flow')}]")
    assert (
        _post(supervisor, "/flows/edit/promo.json", "/flows/", action="publish", text="").status_code == 422
    )
    done = _post(supervisor, "/flows/edit/promo.json", "/flows/", action="publish", text="", note="no promo")
    assert done.status_code == 302
    session.expire_all()
    newest = _newest(session)
    assert newest.note == "no promo" and "promo.json" not in version_texts(session, newest.id)
    assert "main.json" in version_texts(session, newest.id)
    rows = _page(supervisor.get("/flows/")).xpath(f"//table[{c('documents')}]/tbody/tr/@data-document")
    assert "promo.json" not in rows


def _goto(text: str, flow: str) -> str:
    data = json.loads(text)
    data["nodes"]["greeting"] = {"type": "goto", "flow": flow}
    return json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize(
    ("document", "word"),
    [("site.json", "site's settings"), ("main.json", "default flow"), ("promo.json", "go to")],
)
def test_delete_is_refused_for_the_site_the_default_and_a_goto_target(supervisor, session, document, word):
    _new_published_flow(supervisor, "promo")
    text = _page(supervisor.get("/flows/edit/promo.json")).get_element_by_id("source").text_content()
    other = json.loads(text)
    other["name"] = "caller"
    other["nodes"]["hello"]["next"] = "jump"
    other["nodes"]["jump"] = {"type": "goto", "flow": "promo"}
    caller_text = json.dumps(other, indent=2) + "\n"
    assert _post(supervisor, "/flows/new", "/flows/", name="caller").status_code == 302
    published_caller = _post(
        supervisor, "/flows/edit/caller.json", "/flows/", action="publish", text=caller_text, note="caller"
    )
    assert published_caller.status_code == 302, published_caller.data[:2000]
    before = _newest(session).id
    refused = _post(supervisor, f"/flows/delete/{document}", f"/flows/edit/{document}")
    assert refused.status_code == 302
    shown = _page(supervisor.get(f"/flows/edit/{document}")).text_content()
    assert "is not deleted" in shown and word in shown
    assert session.scalar(select(func.count()).select_from(FlowDraft)) == 0 and _newest(session).id == before


def test_the_flows_pages_take_posts_larger_than_other_pages(app, supervisor, session, published):
    text = _main_text(supervisor)
    data = json.loads(text)
    data["nodes"]["greeting"]["prompt"] = "Long. " * 20_000  # ~120 KB: over MAX_CONTENT_LENGTH (64 KiB)
    big = json.dumps(data, indent=2) + "\n"
    assert len(big.encode()) > app.config["MAX_CONTENT_LENGTH"]
    assert _edit(supervisor, "save", big).status_code == 302
    assert session.scalars(select(FlowDraft.text)).one() == big
    too_big = supervisor.post("/logout", data={"q": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert too_big.status_code == 413  # other pages keep the smaller limit
