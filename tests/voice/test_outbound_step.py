"""/voice/outbound/<attempt>, a campaign's call answered: on PostgreSQL the call with its kept answer and the
attempt read, then one statement (the call logged with its first step, the attempt linked, the answer
kept); on SQLite one short transaction. What it leaves is what the transactional path left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.campaigns import answered
from ivr.models import Attempt, Call, CallEvent, Campaign, Contact, DoNotCall, WebhookAnswer

from ..campaign_helpers import CALLER_ID, contacts, load, new_campaign
from ..conftest import OPEN
from ..helpers import call_row, event_kinds, events
from ..twilio import TwilioClient, new_sid, one, parse, xpath
from .roundtrips import RoundTrips

PHONE = "+15125550160"
TOKEN = "I-Twilio-Idempotency-Token"


def _attempt(app: Flask, session: Session, call_sid: str | None = None, **settings: Any) -> int:
    campaign = new_campaign(app, session, **settings)
    load(session, campaign, f"phone,name,plan\n{PHONE},Pat,gold\n")
    session.execute(update(Contact).where(Contact.campaign_id == campaign.id).values(state="dialling"))
    session.execute(update(Campaign).where(Campaign.id == campaign.id).values(state="running"))
    made = Attempt(
        campaign_id=campaign.id, contact_id=contacts(session, campaign)[PHONE].id, number=1, status="queued",
        call_sid=call_sid,
    )  # fmt: skip
    session.add(made)
    session.commit()
    return made.id


def _answered(twilio: TwilioClient, attempt_id: int, sid: str, token: str | None = None, **extra: str) -> Any:
    params = twilio.call_params(sid, CALLER_ID, PHONE, "in-progress", Direction="outbound-api", **extra)
    headers = {TOKEN: token} if token else None
    return parse(twilio.post(f"/voice/outbound/{attempt_id}", params, headers=headers))


def _on_postgresql(app: Flask) -> bool:
    return app.extensions["ivr.db"].engine.dialect.name == "postgresql"


def test_a_person_answering_gets_the_flow_in_one_write(app, twilio, session):
    attempt_id = _attempt(app, session)  # publishes the flows folder
    app.extensions["ivr.flows"].check_seconds = 3600  # as served: the newest flows read now and then only
    app.extensions["ivr.flows"].current()
    sid = new_sid()
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    with counter.counting():
        root = _answered(twilio, attempt_id, sid, "out-1", AnsweredBy="human")
    assert one(root, "//Gather/@action")
    if _on_postgresql(app):
        assert counter.trips == 3  # the call and kept answer, the attempt, then one statement
    session.expire_all()
    attempt = session.get_one(Attempt, attempt_id)
    assert (attempt.call_sid, attempt.answered_by) == (sid, "human")
    row = call_row(session, sid)
    assert (row.direction, row.role, row.flow, row.to_number) == ("outbound-api", "callee", "main", PHONE)
    assert row.site_version_id is not None and row.node
    assert row.variables["name"] == "Pat" and row.variables["plan"] == "gold"
    kinds = event_kinds(session, sid)
    assert kinds[0] == "outbound_answered" and len(kinds) > 1
    (answered_event,) = events(session, sid, "outbound_answered")
    assert answered_event.data == {
        "campaign": "Reminders", "attempt": attempt_id, "contact": attempt.contact_id, "answered_by": "human",
    }  # fmt: skip
    kept = session.scalar(select(WebhookAnswer.body).where(WebhookAnswer.key == "token:out-1"))
    assert kept is not None and one(parse_text(kept), "//Gather/@action") == one(root, "//Gather/@action")


def parse_text(body: str) -> Any:
    from lxml import etree

    return etree.fromstring(body.encode())


def test_a_repeat_gets_the_kept_answer_and_a_second_request_is_logged_as_one(app, twilio, session):
    attempt_id = _attempt(app, session)
    sid = new_sid()
    first = _answered(twilio, attempt_id, sid, "out-2")
    logged = event_kinds(session, sid)
    again = _answered(twilio, attempt_id, sid, "out-2")  # Twilio's retry of the same request
    assert one(again, "//Gather/@action") == one(first, "//Gather/@action")
    assert event_kinds(session, sid) == logged
    _answered(twilio, attempt_id, sid, "out-3")  # another request for the same call: its flow starts again
    kinds = event_kinds(session, sid)
    assert kinds[len(logged) : len(logged) + 2] == ["outbound_repeated", "outbound_answered"]


def test_a_machine_gets_the_campaigns_message_and_no_flow(app, twilio, session):
    attempt_id = _attempt(app, session, machine_detection="message", machine_message="Please call Acme back.")
    sid = new_sid()
    root = _answered(twilio, attempt_id, sid, AnsweredBy="machine_end_beep")
    assert one(root, "/Response/Say/text()") == "Please call Acme back."
    assert xpath(root, "/Response/Hangup")
    assert event_kinds(session, sid) == ["outbound_answered", "machine_detected"]
    assert events(session, sid, "machine_detected")[0].data == {
        "answered_by": "machine_end_beep",
        "action": "message",
    }
    assert call_row(session, sid).site_version_id is None
    session.expire_all()
    assert session.get_one(Attempt, attempt_id).answered_by == "machine_end_beep"


def test_an_attempt_that_is_another_calls_or_another_numbers_hangs_up_and_writes_nothing(
    app, twilio, session
):
    theirs = _attempt(app, session, call_sid=new_sid())
    sid = new_sid()
    assert xpath(_answered(twilio, theirs, sid), "//Hangup")
    other = _attempt(app, session, name="Other")
    params = twilio.call_params(sid, CALLER_ID, "+15125550999", "in-progress", Direction="outbound-api")
    assert xpath(parse(twilio.post(f"/voice/outbound/{other}", params)), "//Hangup")
    assert session.scalar(select(Call.id).where(Call.call_sid == sid)) is None
    session.expire_all()
    assert session.get_one(Attempt, other).call_sid is None


STOP = {  # a campaign flow that opts the callee out at once: its first step has an effect
    "name": "stop",
    "start": "remove",
    "nodes": {"remove": {"type": "opt_out", "prompt": "You will not be called again. Goodbye."}},
}
FLOWS = pytest.mark.parametrize("flow", ["main", "stop"], ids=["a first step", "a first step with effects"])


def _campaign_flow(app: Flask, flows_dir: Path, flow: str) -> str:
    """The campaign's flow, the one that opts out written and published first."""
    if flow == STOP["name"]:
        (flows_dir / "stop.json").write_text(json.dumps(STOP))
        app.extensions["ivr.flows"].check_seconds = 0
    return flow


@FLOWS
def test_an_attempt_taken_by_another_call_after_the_read_refuses_the_write(
    app, twilio, session, monkeypatch, flows_dir, flow
):
    """The guard: the attempt linked meanwhile to another call (read as free): the step (and what its effects
    write) is not written, and the call hangs up as for another call's attempt."""
    attempt_id = _attempt(app, session, flow=_campaign_flow(app, flows_dir, flow))
    real = answered.read

    def raced(run: Any, found_id: int) -> Any:
        placed = real(run, found_id)
        session.execute(update(Attempt).where(Attempt.id == found_id).values(call_sid="CA" + "f" * 32))
        session.commit()
        return placed

    monkeypatch.setattr(answered, "read", raced)
    sid = new_sid()
    assert xpath(_answered(twilio, attempt_id, sid, "out-raced", AnsweredBy="human"), "//Hangup")
    assert session.scalar(select(Call.id).where(Call.call_sid == sid)) is None
    kept = session.scalar(select(WebhookAnswer.body).where(WebhookAnswer.key == "token:out-raced"))
    assert xpath(parse_text(kept), "/Response/Hangup")  # the hang-up is kept, as for any other call's attempt
    session.expire_all()
    assert session.get_one(Attempt, attempt_id).answered_by is None
    assert session.scalar(select(DoNotCall.phone)) is None


def test_a_first_step_with_effects_is_written_with_the_link(app, twilio, session, flows_dir):
    """A campaign flow that opts the callee out at once: the step, its effect and the link in one write
    (more in tests/voice/test_effect_steps.py)."""
    attempt_id = _attempt(app, session, flow=_campaign_flow(app, flows_dir, "stop"))
    sid = new_sid()
    root = _answered(twilio, attempt_id, sid, "out-stop", AnsweredBy="human")
    assert one(root, "//Say/text()") == "You will not be called again. Goodbye."
    assert session.scalar(select(DoNotCall.phone)) == PHONE
    assert event_kinds(session, sid)[0] == "outbound_answered"
    assert events(session, sid, "do_not_call")[0].data == {"number": PHONE, "added": True}
    session.expire_all()
    assert (
        session.get_one(Attempt, attempt_id).call_sid,
        session.get_one(Attempt, attempt_id).answered_by,
    ) == (
        sid,
        "human",
    )
    assert session.scalar(select(CallEvent.id).where(CallEvent.kind == "error")) is None


@FLOWS
def test_the_same_request_answered_meanwhile_gets_that_answer(
    app, twilio, session, monkeypatch, flows_dir, flow
):
    """Twilio's retry of this request was answered between this one's read and its write: this one writes
    nothing (what its effects write neither) and answers what was kept, so both answers agree."""
    attempt_id = _attempt(app, session, flow=_campaign_flow(app, flows_dir, flow))
    sid = new_sid()
    real = answered.read
    kept = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Answered meanwhile.</Say></Response>'

    def answered_meanwhile(run: Any, found_id: int) -> Any:
        session.add(WebhookAnswer(key="token:out-twice", call_sid=sid, answered_at=OPEN, status=200,
                                  content_type="text/xml", body=kept))  # fmt: skip
        session.commit()
        return real(run, found_id)

    monkeypatch.setattr(answered, "read", answered_meanwhile)
    root = _answered(twilio, attempt_id, sid, "out-twice", AnsweredBy="human")
    assert one(root, "/Response/Say/text()") == "Answered meanwhile."
    assert session.scalar(select(Call.id).where(Call.call_sid == sid)) is None
    assert session.scalar(select(DoNotCall.phone)) is None
