"""Property: whatever a caller presses, says or leaves unsaid, and however the desk behaves, the sample line
never errs, never answers 5xx and never sends TwiML Twilio would reject."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sim import Agents, Caller, Input, SimulatedCall, VirtualClock, WsgiTransport

from .conftest import AUTH_TOKEN, OPEN
from .helpers import call_row

inputs = st.one_of(
    st.builds(Input, digits=st.text(alphabet="0123456789*#", min_size=1, max_size=12)),
    st.builds(
        Input, speech=st.sampled_from(["billing", "support", "operator", "español", "uh", "order status"])
    ),
    st.just(Input()),  # silence
)
agents = st.builds(
    Agents,
    answer_after=st.one_of(st.none(), st.floats(min_value=0, max_value=1200)),
    talk_seconds=st.floats(min_value=0, max_value=3600),
    dial_status=st.sampled_from(["completed", "busy", "no-answer", "failed"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    script=st.lists(inputs, max_size=8),
    patience=st.floats(min_value=0, max_value=2000),
    desk=agents,
    hours=st.integers(min_value=0, max_value=24 * 7),
)
def test_random_callers_never_meet_an_error(app, session, script, patience, desk, hours):
    clock = VirtualClock(OPEN + timedelta(hours=hours))  # any hour of the week: open, closed, weekend
    app.config["IVR_CLOCK"] = clock.now
    caller = Caller.scripted(script, patience=patience)
    call = SimulatedCall(WsgiTransport(app, AUTH_TOKEN), "https://ivr.test", "+15125550199", "+15125550100",
                         clock, caller, desk)  # fmt: skip
    result = call.run()
    assert result.ok, (result.error, result.status_problems)
    row = call_row(session, result.call_sid)
    assert row.errors == 0
    assert (row.status, row.duration) == ("completed", result.duration)
