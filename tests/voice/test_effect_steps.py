"""A flow step with effects (a do-not-call opt-out) stored through ivr.calls.steps: on PostgreSQL one
statement (the step, the list's entry and its event, the answer kept), on SQLite one short transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.calls import log as calllog
from ivr.calls import steps
from ivr.campaigns import dnc
from ivr.models import Attempt, CallEvent, DoNotCall, WebhookAnswer

from ..campaign_helpers import CALLER_ID
from ..conftest import OPEN
from ..helpers import call_row
from ..twilio import CallDriver, TwilioClient, new_sid, one, parse, xpath
from .roundtrips import RoundTrips
from .test_outbound_step import PHONE, _answered, _attempt

TOKEN = "I-Twilio-Idempotency-Token"
LINE = "+15125550142"  # the menu: 9 opts out, 1 hangs up
STOP_LINE = "+15125550143"  # opts out at once: the call's first step has the effect
CALLER = "+12125551234"
GOODBYE = "You will not be called again. Goodbye."
REMOVE = {"type": "opt_out", "prompt": GOODBYE}
MENU_FLOW = {
    "name": "optout",
    "numbers": [LINE],
    "start": "ask",
    "nodes": {
        "ask": {
            "type": "menu",
            "prompt": "Press 1 to confirm, or 9 to stop these calls.",
            "options": {"1": "bye", "9": "remove"},
            "timeout": "bye",
            "invalid": "bye",
        },
        "remove": REMOVE,
        "bye": {"type": "hangup", "prompt": "Goodbye."},
    },
}
STOP_FLOW = {"name": "stop", "numbers": [STOP_LINE], "start": "remove", "nodes": {"remove": REMOVE}}
ADDED = {"number": CALLER, "added": True}
ALREADY = {"number": CALLER, "added": False, "reason": "already on the list"}
WITHHELD = {"number": "anonymous", "added": False, "reason": "not a number that can be listed (withheld?)"}


@pytest.fixture
def lines(app: Flask, flows_dir: Path) -> None:
    """The menu line and the line that opts out at once, published."""
    (flows_dir / "optout.json").write_text(json.dumps(MENU_FLOW))
    (flows_dir / "stop.json").write_text(json.dumps(STOP_FLOW))
    app.extensions["ivr.flows"].current()


def on_postgresql(app: Flask) -> bool:
    return app.extensions["ivr.db"].engine.dialect.name == "postgresql"


def _press(call: CallDriver, root: Any, digits: str, token: str | None = None, **extra: str) -> Any:
    url = one(root, "//Gather/@action")
    headers = {TOKEN: token} if token else None
    return call.twilio.post(url, call.params(Digits=digits, **extra), headers=headers)


def _entries(session: Session) -> dict[str, tuple[str, str, datetime]]:
    session.expire_all()
    return {e.phone: (e.source, e.note, e.added_at) for e in session.scalars(select(DoNotCall))}


def _timeline(session: Session, sid: str) -> list[tuple[str, str | None, Any, datetime]]:
    """A call's events in order: kind, node, data, time."""
    call = call_row(session, sid)
    found = session.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
    return [(e.kind, e.node, e.data, e.at) for e in found]


def _kept(session: Session, key: str) -> str | None:
    return session.scalar(select(WebhookAnswer.body).where(WebhookAnswer.key == key))


def _list(session: Session, phone: str, when: datetime = OPEN - timedelta(days=3)) -> None:
    dnc.block(session, phone, "manual", "asked by letter", now=when)
    session.commit()


def _opted_out(twilio: TwilioClient, caller: str = CALLER, token: str = "opt-1", **extra: str) -> CallDriver:
    """A call to the menu line whose caller presses 9."""
    call = CallDriver(twilio, caller=caller, called=LINE)
    response = _press(call, call.start(), "9", token, **extra)
    assert one(parse(response), "//Say/text()") == GOODBYE
    return call


def test_a_caller_opting_out_is_listed_and_logged_after_the_steps_own_events(twilio, session, lines):
    call = _opted_out(twilio)
    assert _entries(session) == {CALLER: ("opt-out", f"opted out during call {call.sid}", OPEN)}
    timeline = _timeline(session, call.sid)
    assert timeline[-1] == ("do_not_call", "remove", ADDED, OPEN)
    kinds = [kind for kind, *_ in timeline]
    assert kinds.count("do_not_call") == 1 and kinds.index("opt_out") < kinds.index("do_not_call")
    row = call_row(session, call.sid)
    assert (row.node, row.path, row.errors) == ("remove", "ask:9", 0)
    assert _kept(session, "token:opt-1") is not None


def test_a_number_on_the_list_already_keeps_its_entry(twilio, session, lines):
    _list(session, CALLER)
    call = _opted_out(twilio)
    assert _entries(session) == {CALLER: ("manual", "asked by letter", OPEN - timedelta(days=3))}
    assert _timeline(session, call.sid)[-1] == ("do_not_call", "remove", ALREADY, OPEN)


def test_a_withheld_caller_is_not_listed(twilio, session, lines):
    call = _opted_out(twilio, caller="anonymous")
    assert _entries(session) == {}
    assert _timeline(session, call.sid)[-1] == ("do_not_call", "remove", WITHHELD, OPEN)
    assert call_row(session, call.sid).errors == 0


@pytest.mark.parametrize("status_first", [False, True], ids=["new call", "logged by its status callback"])
def test_a_call_whose_first_step_opts_out(twilio, session, lines, status_first):
    """The call's row, its first step, the entry and the event in one write; or, when a status callback
    logged the call first, the step on the row found."""
    call = CallDriver(twilio, caller=CALLER, called=STOP_LINE)
    if status_first:
        assert twilio.status(call.sid, "ringing", 0, From=CALLER, To=STOP_LINE).status_code == 204
    response = twilio.post("/voice/incoming", twilio.call_params(call.sid, CALLER, STOP_LINE))
    root = parse(response)
    assert one(root, "//Say/text()") == GOODBYE and xpath(root, "//Hangup")
    assert _entries(session) == {CALLER: ("opt-out", f"opted out during call {call.sid}", OPEN)}
    timeline = _timeline(session, call.sid)
    assert timeline[-1] == ("do_not_call", "remove", ADDED, OPEN)
    assert [kind for kind, *_ in timeline][0] == ("status" if status_first else "flow_started")
    row = call_row(session, call.sid)
    assert row.site_version_id is not None and (row.flow, row.node) == ("stop", "remove")
    assert _kept(session, f"incoming:{call.sid}") == response.get_data(as_text=True)


def test_a_repeated_step_writes_nothing_twice_and_gets_the_kept_answer(twilio, session, lines):
    call = CallDriver(twilio, caller=CALLER, called=LINE)
    menu = call.start()
    first = _press(call, menu, "9", "opt-twice")
    logged = _timeline(session, call.sid)
    again = _press(call, menu, "9", "opt-twice")  # Twilio's retry of the same request
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert _timeline(session, call.sid) == logged
    assert [kind for kind, *_ in logged].count("do_not_call") == 1
    assert _entries(session) == {CALLER: ("opt-out", f"opted out during call {call.sid}", OPEN)}
    params = twilio.call_params(new_sid(), "+12125551299", STOP_LINE)
    started = twilio.post("/voice/incoming", params)
    logged = _timeline(session, params["CallSid"])
    again = twilio.post("/voice/incoming", params)  # a second /voice/incoming: its first answer
    assert again.get_data(as_text=True) == started.get_data(as_text=True)
    assert _timeline(session, params["CallSid"]) == logged
    assert [kind for kind, *_ in logged].count("do_not_call") == 1


@pytest.mark.parametrize("rang", [False, True], ids=["answered first", "its ringing logged first"])
@pytest.mark.parametrize("listed", [False, True], ids=["added", "already listed"])
@pytest.mark.parametrize("first", [False, True], ids=["a later step", "the first step"])
def test_a_callee_of_a_campaign_call_opting_out_lists_the_number_called(
    app, twilio, session, lines, first, listed, rang
):
    """A call ivr placed: the party is To (the contact's number), not From (the campaign's caller ID). The
    dialer asks for the `ringing` callback, which usually logs the call before it is answered."""
    if listed:
        _list(session, PHONE)
    attempt_id = _attempt(app, session, flow="stop" if first else "optout")
    sid = new_sid()
    if rang:
        ringing = twilio.call_params(
            sid, CALLER_ID, PHONE, "ringing", Direction="outbound-api", SequenceNumber="1"
        )
        assert twilio.post(f"/voice/status?attempt={attempt_id}", ringing).status_code == 204
        assert call_row(session, sid).status == "ringing"
    root = _answered(twilio, attempt_id, sid, "out-opt", AnsweredBy="human")
    if not first:
        driver = CallDriver(twilio, sid=sid, caller=CALLER_ID, called=PHONE)
        root = parse(_press(driver, root, "9", "out-opt-9", Direction="outbound-api"))
    assert one(root, "//Say/text()") == GOODBYE
    note = f"opted out during call {sid}"
    entry = ("manual", "asked by letter", OPEN - timedelta(days=3)) if listed else ("opt-out", note, OPEN)
    assert _entries(session) == {PHONE: entry}
    data = {"number": PHONE, "added": not listed} | ({"reason": "already on the list"} if listed else {})
    timeline = _timeline(session, sid)
    assert timeline[int(rang)][0] == "outbound_answered" and timeline[-1] == (
        "do_not_call",
        "remove",
        data,
        OPEN,
    )
    session.expire_all()
    attempt = session.get_one(Attempt, attempt_id)
    assert (attempt.call_sid, attempt.answered_by) == (sid, "human")
    assert _kept(session, "token:out-opt") is not None


def test_a_new_call_logged_meanwhile_gets_its_first_step_and_the_entry_once(
    twilio, session, lines, monkeypatch
):
    """A status callback logs the call between the new call's read and its write: the write finds the call
    logged and writes nothing; the step, the entry and its event go on the row found."""
    real = steps.Steps.read
    params = twilio.call_params(new_sid(), CALLER, STOP_LINE)

    def logged_meanwhile(self: steps.Steps, connection: Any, sid: str, key: str | None) -> steps.Found:
        found = real(self, connection, sid, key)
        calllog.insert_call(session, params, OPEN)
        session.commit()
        return found

    monkeypatch.setattr(steps.Steps, "read", logged_meanwhile)
    assert one(parse(twilio.post("/voice/incoming", params)), "//Say/text()") == GOODBYE
    sid = params["CallSid"]
    assert _entries(session) == {CALLER: ("opt-out", f"opted out during call {sid}", OPEN)}
    timeline = _timeline(session, sid)
    assert [entry for entry in timeline if entry[0] == "do_not_call"] == [
        ("do_not_call", "remove", ADDED, OPEN)
    ]
    assert timeline[-1][0] == "do_not_call" and call_row(session, sid).site_version_id is not None


def test_a_step_with_effects_costs_what_a_step_without_them_costs(app, twilio, session, lines):
    """PostgreSQL: the read of the call and kept answer, then one statement, with or without the opt-out;
    a new call whose first step opts out the same as any new call; a campaign's first step one more read
    (its attempt)."""
    app.extensions["ivr.flows"].check_seconds = 3600  # as served: the newest flows read now and then only
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    trips: dict[str, int] = {}
    for digits, name in (("1", "plain step"), ("9", "opt-out step")):
        call = CallDriver(twilio, caller=CALLER, called=LINE)
        menu = call.start()
        with counter.counting():
            assert _press(call, menu, digits, f"trips-{digits}").status_code == 200
        trips[name] = counter.trips
    for line, name in ((LINE, "plain start"), (STOP_LINE, "opt-out start")):
        with counter.counting():
            CallDriver(twilio, caller="+12125551236", called=line).start()
        trips[name] = counter.trips
    attempt_id = _attempt(app, session, flow="stop")
    with counter.counting():
        _answered(twilio, attempt_id, new_sid(), "trips-out", AnsweredBy="human")
    trips["opt-out first step of a campaign call"] = counter.trips
    opted_out = session.scalars(select(CallEvent.id).where(CallEvent.kind == "do_not_call")).all()
    assert len(opted_out) == 3
    if on_postgresql(app):
        assert trips == {
            "plain step": 2,
            "opt-out step": 2,
            "plain start": 2,
            "opt-out start": 2,
            "opt-out first step of a campaign call": 3,
        }
