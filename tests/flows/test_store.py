"""The flow store: the database is the source of truth; the folder is published only when watched."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from ivr.accounts.audit import Actor
from ivr.db import Database
from ivr.flows.history import newest_version_id, version_texts
from ivr.flows.publishing import publish_texts
from ivr.flows.store import FlowStore
from ivr.models import SiteVersion

from ..conftest import OPEN
from .sample import edited, greeting, sample_texts


def _greeting(flows_dir, text: str) -> None:
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["prompt"] = text
    path.write_text(json.dumps(flow, indent=2) + "\n")


def _store(app, flows_dir, watch: bool = True, check_seconds: float = 0) -> FlowStore:
    return FlowStore(
        flows_dir, app.extensions["ivr.db"].sessionmaker, check_seconds=check_seconds, watch=watch
    )


def _said(store: FlowStore) -> str:
    current = store.current()
    assert current is not None
    return current.site.flows["main"].nodes["greeting"]["prompt"]


def _versions(session) -> int:
    return session.scalar(select(func.count()).select_from(SiteVersion))


def _publish_greeting(session, texts: dict[str, str], text: str, source: str = "test") -> int:
    flow = json.loads(texts["main.json"])
    flow["nodes"]["greeting"]["prompt"] = text
    changed = {"main.json": json.dumps(flow, indent=2) + "\n"}
    version = publish_texts(
        session, changed, note="test", actor=Actor("tester"), now=OPEN, source=source,
        based_on=newest_version_id(session),
    )  # fmt: skip
    session.commit()
    return version.id


def test_a_watched_folder_is_published_when_its_content_differs(app, flows_dir, session):
    store = _store(app, flows_dir)
    _greeting(flows_dir, "Version A.")
    first = store.current().id
    os.utime(flows_dir / "main.json")  # touched, not changed: nothing new to publish
    assert store.current().id == first
    _greeting(flows_dir, "Version B.")
    assert _said(store) == "Version B."
    _greeting(flows_dir, "Version A.")  # a revert is a new version: the history shows it
    assert _said(store) == "Version A." and store.current().id > first
    assert _versions(session) == 3
    assert version_texts(session, store.current().id)["main.json"] == (flows_dir / "main.json").read_text()


def test_a_restart_with_a_broken_folder_serves_the_last_published_version(app, flows_dir):
    store = _store(app, flows_dir)
    _greeting(flows_dir, "Version A.")
    assert _said(store) == "Version A."
    (flows_dir / "main.json").write_text("{broken")
    assert _said(store) == "Version A."
    assert any("invalid JSON" in str(problem) for problem in store.problems)
    assert _said(_store(app, flows_dir)) == "Version A."


def test_a_browser_publish_survives_other_workers_and_restarts_watching_an_unchanged_folder(
    app, flows_dir, session
):
    first = _store(app, flows_dir).current().id
    browser = _publish_greeting(session, version_texts(session, first), "From the browser.", source="browser")
    other_worker = _store(app, flows_dir)  # starts with no fingerprint: reads the folder on its first check
    assert other_worker.current().id == browser and _said(other_worker) == "From the browser."
    assert _said(_store(app, flows_dir)) == "From the browser."  # a restart
    assert _versions(session) == 2
    _greeting(flows_dir, "Edited in the folder.")  # a change to the folder is still published
    assert _said(other_worker) == "Edited in the folder." and _versions(session) == 3


def test_a_folder_never_published_is_not_published_over_the_newest_until_it_changes(app, flows_dir, session):
    texts = edited(sample_texts(), greeting("From the API."))
    publish_texts(session, texts, note="t", actor=Actor("api"), now=OPEN, source="api", based_on=None)
    session.commit()
    store = _store(app, flows_dir)
    assert _said(store) == "From the API." and _versions(session) == 1
    _greeting(flows_dir, "Edited in the folder.")
    assert _said(store) == "Edited in the folder." and _versions(session) == 2


def test_without_watching_the_folder_changes_nothing(app, flows_dir, session):
    watched = _store(app, flows_dir)
    first = watched.current().id
    unwatched = _store(app, flows_dir, watch=False)
    _greeting(flows_dir, "Only on this host's disk.")
    assert unwatched.current().id == first and _versions(session) == 1


def test_every_process_serves_the_newest_version_whatever_its_disk_holds(app, flows_dir, session, tmp_path):
    published = _store(app, flows_dir).current()
    other_host = FlowStore(tmp_path / "no-such-folder", app.extensions["ivr.db"].sessionmaker, 0, watch=False)
    assert other_host.current().id == published.id
    newer = _publish_greeting(session, version_texts(session, published.id), "From the browser.")
    assert other_host.current().id == newer and _said(other_host) == "From the browser."
    assert other_host.get(published.id).id == published.id  # calls in progress keep their version


def test_a_publish_in_this_process_is_seen_at_once_others_after_the_check_interval(app, flows_dir, config):
    first = _store(app, flows_dir).current().id
    store = _store(app, flows_dir, watch=False, check_seconds=3600)
    assert store.current().id == first
    sessions = app.extensions["ivr.db"].sessionmaker
    with sessions() as s:
        mine = _publish_greeting(s, version_texts(s, first), "Published here.")
    assert store.current().id == mine  # seen at once, though the next check is an hour away
    elsewhere = Database(config["DATABASE_URL"])  # another process's connections
    try:
        with elsewhere.sessionmaker() as s:
            _publish_greeting(s, version_texts(s, mine), "Published elsewhere.")
    finally:
        elsewhere.engine.dispose()
    assert store.current().id == mine  # until the next check
    store.check_seconds = 0
    assert _said(store) == "Published elsewhere."


def test_a_failed_publish_is_tried_again(app, flows_dir, monkeypatch):
    store = _store(app, flows_dir)
    store.current()
    _greeting(flows_dir, "New greeting.")
    real = store.publish
    calls = []

    def flaky(bundle, source):
        calls.append(source)
        if len(calls) == 1:
            raise ConnectionError("connection reset")
        return real(bundle, source)

    monkeypatch.setattr(store, "publish", flaky)
    assert _said(store) != "New greeting."  # the failure is logged, the old version still serves
    assert _said(store) == "New greeting."
    assert len(calls) == 2


def _down(*_args, **_kwargs):
    raise ConnectionError("database unreachable")


def test_fallback_site_comes_from_the_folder_when_the_database_is_down(app, flows_dir, monkeypatch):
    store = _store(app, flows_dir)
    monkeypatch.setattr(store, "sessions", _down)
    site = store.site_for_fallback()
    assert site is not None and site.fallback["desk"] == "local"


def test_a_known_version_keeps_serving_while_the_database_is_down(app, flows_dir, monkeypatch):
    assert _store(app, flows_dir).current() is not None  # the folder published
    store = _store(app, flows_dir, watch=False)
    with pytest.raises(ConnectionError):
        monkeypatch.setattr(store, "sessions", _down)
        store.current()  # nothing known yet: the failure is the caller's
    monkeypatch.undo()
    known = store.current()
    monkeypatch.setattr(store, "_newest", _down)
    assert store.current() == known


def test_every_process_reads_a_version_with_its_keys_in_the_published_order(app, flows_dir):
    published = _store(app, flows_dir).current()
    elsewhere = _store(app, flows_dir, watch=False).get(published.id)  # read from the database, not cached
    weights = elsewhere.site.flows["main"].nodes["to_billing"]["weights"]
    assert list(weights) == [
        "local",
        "bpo",
    ]  # as written (PostgreSQL's JSONB sorts keys: routing depends on it)
    assert elsewhere.site == published.site
