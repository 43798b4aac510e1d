"""A server with its own clock takes a simulated call's time from the call (`ivr simulate --url --at`)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from ivr.models import Call, CallEvent
from ivr.sim import Caller, Input, SimulatedCall, VirtualClock, WsgiTransport
from ivr.sim.transport import Timed

from ..conftest import AUTH_TOKEN, CLOSED, OPEN
from ..helpers import call_row
from ..twilio import TwilioClient, new_sid

BASE = "https://ivr.test"


def timed_call(app: Flask, clock: VirtualClock, *keys: str) -> SimulatedCall:
    caller = Caller.scripted([Input(digits=key) for key in keys])
    transport = Timed(WsgiTransport(app, AUTH_TOKEN), clock)
    return SimulatedCall(transport, BASE, "+15125550199", "+15125550100", clock, caller)


def test_a_server_that_allows_it_logs_and_routes_the_call_at_its_simulated_time(app: Flask, session) -> None:
    app.config["SIMULATED_TIME"] = True  # the server's own clock (IVR_CLOCK) says OPEN: the call says CLOSED
    result = timed_call(app, VirtualClock(CLOSED), "1").run()
    assert result.ok, result.events
    assert any("business day" in event.what for event in result.events)  # after hours: the voicemail
    row = call_row(session, result.call_sid)
    assert row.started_at == CLOSED
    assert row.ended_at is not None and row.ended_at > row.started_at
    assert abs(row.ended_at - (CLOSED + timedelta(seconds=result.duration))) <= timedelta(seconds=1)
    times = session.scalars(select(CallEvent.at).where(CallEvent.call_id == row.id)).all()
    assert min(times) == CLOSED and abs(max(times) - row.ended_at) <= timedelta(seconds=1)


def test_a_server_with_its_own_clock_refuses_a_simulated_time(app: Flask, session) -> None:
    result = timed_call(app, VirtualClock(CLOSED), "1").run()
    assert result.error is not None and result.error.code == 11200
    assert "IvrSimulatedTime: this server keeps its own clock" in result.error.message
    assert "IVR_SIMULATED_TIME=1" in result.error.message
    assert session.scalars(select(Call).where(Call.call_sid == result.call_sid)).first() is None


def test_a_simulated_time_that_is_not_a_time_is_refused(app: Flask, twilio: TwilioClient, session) -> None:
    app.config["SIMULATED_TIME"] = True
    sid = new_sid()
    response = twilio.post("/voice/incoming", twilio.call_params(sid) | {"IvrSimulatedTime": "yesterday"})
    assert response.status_code == 400
    assert "'yesterday' is not an ISO 8601 date-time" in response.get_data(as_text=True)
    naive = twilio.post("/voice/incoming", twilio.call_params(sid) | {"IvrSimulatedTime": "2026-11-24T16:00"})
    assert naive.status_code == 200
    assert call_row(session, sid).started_at == OPEN  # a time without a zone is UTC
