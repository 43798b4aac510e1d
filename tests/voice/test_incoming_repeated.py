"""Only a real repeat of /voice/incoming is one: a row logged by an earlier status callback is a new call."""

from __future__ import annotations

from flask import Flask
from lxml import etree

from ivr.sim import Caller, Input, SimulatedCall, VirtualClock, WsgiTransport

from ..conftest import AUTH_TOKEN, OPEN
from ..helpers import call_row, event_kinds
from ..twilio import one

BASE = "https://ivr.test"


def test_simulated_call_with_early_status_callbacks_is_not_a_repeat(app: Flask, session):
    clock = VirtualClock(OPEN)
    app.config["IVR_CLOCK"] = clock.now
    caller = Caller.scripted([Input(digits="1"), Input(digits="3"), Input(digits="")])
    # the simulator sends 'initiated' and 'ringing' before it asks /voice/incoming, as Twilio does
    call = SimulatedCall(WsgiTransport(app, AUTH_TOKEN), BASE, "+15125550123", "+15125550100", clock, caller)
    result = call.run()
    assert result.ok, (result.error, result.status_problems)
    kinds = event_kinds(session, result.call_sid)
    assert kinds[:2] == ["status", "status"]  # the row existed before the flow started
    assert "flow_started" in kinds
    assert kinds.count("flow_started") == 1


def test_status_callback_first_then_incoming_starts_the_flow_once(call, twilio, session):
    twilio.status(call.sid, "ringing", 0)
    root = call.start()
    assert one(root, "/Response/Gather").get("action").endswith("/voice/step/main/language/input")
    row = call_row(session, call.sid)
    assert (row.flow, row.node) == ("main", "language")
    assert event_kinds(session, call.sid).count("flow_started") == 1


def test_a_retried_incoming_request_gets_the_first_answer_again(call, session):
    first = call.start()
    kinds = event_kinds(session, call.sid)
    again = call.start()  # Twilio retried the first request (its answer was lost), or someone replayed it
    assert etree.tostring(again) == etree.tostring(first)
    assert event_kinds(session, call.sid) == kinds  # the flow did not start again
