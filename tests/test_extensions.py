"""The app's typed accessors: the clock (IVR_CLOCK or the wall clock) and the flow store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr import create_app
from ivr.db import utcnow
from ivr.extensions import clock, flows, priced_desks
from ivr.flows.store import FlowStore

from .conftest import OPEN


def test_the_clock_is_the_apps(app) -> None:
    with app.app_context():
        assert clock() == OPEN  # the tests' IVR_CLOCK
    later = OPEN + timedelta(hours=5)
    app.config["IVR_CLOCK"] = lambda: later
    with app.app_context():
        assert clock() == later


def test_without_a_clock_it_is_the_wall_clock(config) -> None:
    wall = create_app(config | {"IVR_CLOCK": None})
    with wall.app_context():
        before, now, after = utcnow(), clock(), utcnow()
    wall.extensions["ivr.db"].engine.dispose()
    assert before <= now <= after and now.tzinfo is UTC and now > datetime(2026, 1, 1, tzinfo=UTC)


def test_the_flow_store_and_its_desks(app) -> None:
    with app.app_context():
        store = flows()
        assert isinstance(store, FlowStore) and store is app.extensions["ivr.flows"]
        published = store.current()
        assert published is not None and priced_desks() == published.site.desks
        assert set(priced_desks()) == {"local", "bpo"}


def test_no_desks_are_priced_before_anything_is_published(app, config, tmp_path) -> None:
    bare = create_app(config | {"FLOWS_DIR": str(tmp_path)})  # an empty folder, on the emptied database
    with bare.app_context():
        assert flows().current() is None and priced_desks() == {}
    bare.extensions["ivr.db"].engine.dispose()
