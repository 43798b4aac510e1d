"""Publishing flows: versions, reverts, restarts, and what happens when the database fails."""

from __future__ import annotations

import json

from ivr.flows.store import FlowStore


def _greeting(flows_dir, text: str) -> None:
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["prompt"] = text
    path.write_text(json.dumps(flow))


def _store(app, flows_dir) -> FlowStore:
    return FlowStore(flows_dir, app.extensions["ivr.db"].sessionmaker, check_seconds=0)


def _said(store: FlowStore) -> str:
    current = store.current()
    assert current is not None
    return current.site.flows["main"].nodes["greeting"]["prompt"]


def test_a_restart_with_a_broken_folder_serves_the_last_published_version(app, flows_dir):
    store = _store(app, flows_dir)
    _greeting(flows_dir, "Version A.")
    first = store.current().id
    _greeting(flows_dir, "Version B.")
    assert _said(store) == "Version B."
    _greeting(flows_dir, "Version A.")  # a revert publishes A's stored version again
    assert store.current().id == first
    (flows_dir / "main.json").write_text("{broken")
    restarted = _store(app, flows_dir)
    assert _said(restarted) == "Version A."


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


def test_fallback_site_comes_from_the_folder_when_the_database_is_down(app, flows_dir, monkeypatch):
    store = _store(app, flows_dir)

    def down(*_args, **_kwargs):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(store, "sessions", down)
    site = store.site_for_fallback()
    assert site is not None and site.fallback["desk"] == "local"
