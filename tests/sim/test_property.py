"""Property: whatever a caller presses, says or leaves unsaid, and however the desk behaves, the sample line
never errs, never answers 5xx and never sends TwiML Twilio would reject."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sim import Agents, Caller, Input, SimulatedCall, VirtualClock, WsgiTransport

from ..conftest import AUTH_TOKEN, OPEN, _truncate
from ..helpers import call_row

inputs = st.one_of(
    st.builds(Input, digits=st.text(alphabet="0123456789*#", min_size=1, max_size=12)),
    st.builds(
        Input,
        speech=st.sampled_from(
            ["billing", "support", "operator", "español", "uh", "order status", "dial", "queue"]
        ),
    ),
    st.just(Input()),  # silence
)
agents = st.builds(
    Agents,
    answer_after=st.one_of(st.none(), st.floats(min_value=0, max_value=1200)),
    talk_seconds=st.floats(min_value=0, max_value=3600),
    dial_status=st.sampled_from(["completed", "busy", "no-answer", "failed"]),
)


EXTRA_FLOWS = Path(__file__).resolve().parents[1] / "flows_extra"  # every node type, dial and goto included


@pytest.fixture(params=["sample", "every-node-type"])
def line(request, config, database_url) -> Iterator[Flask]:
    """The app answering the sample line, or a line whose flows use every node type."""
    from ivr import create_app

    folder = {"sample": config["FLOWS_DIR"], "every-node-type": str(EXTRA_FLOWS)}[request.param]
    _truncate(database_url)
    application = create_app(config | {"FLOWS_DIR": folder})
    yield application
    application.extensions["ivr.db"].engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    script=st.lists(inputs, max_size=8),
    patience=st.floats(min_value=0, max_value=2000),
    desk=agents,
    hours=st.integers(min_value=0, max_value=24 * 7),
)
def test_random_callers_never_meet_an_error(line, script, patience, desk, hours):
    app = line
    clock = VirtualClock(OPEN + timedelta(hours=hours))  # any hour of the week: open, closed, weekend
    app.config["IVR_CLOCK"] = clock.now
    caller = Caller.scripted(script, patience=patience)
    call = SimulatedCall(WsgiTransport(app, AUTH_TOKEN), "https://ivr.test", "+15125550199", "+15125550100",
                         clock, caller, desk)  # fmt: skip
    result = call.run()
    assert result.ok, (result.error, result.status_problems)
    with app.extensions["ivr.db"].sessionmaker() as session:
        row = call_row(session, result.call_sid)
        assert row.errors == 0
        assert (row.status, row.duration) == ("completed", result.duration)
