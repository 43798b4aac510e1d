"""Whole calls of the sample profile (menus, queues, agents on the agent line, surveys, status callbacks)
run only statements SQLAlchemy can cache: nothing on the voice path is compiled again per request."""

from __future__ import annotations

from flask import Flask

from ..cacheable import recording
from ..conftest import ROOT
from ..sim.test_traffic import _run


def test_whole_calls_run_only_cacheable_statements(app: Flask) -> None:
    with recording(app.extensions["ivr.db"].engine) as run:
        result = _run(app, ROOT / "profiles" / "acme.json", 12, seed=3)
    assert result.summary()["errors"] == 0 and result.agent_legs, "no agent took a call"
    assert run.ran("UPDATE CALLS"), "no step was stored"
    assert run.ran("INTO CALL_EVENTS"), "no event was logged"
    assert run.uncacheable() == []
