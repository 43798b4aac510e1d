"""Status callbacks of calls ivr placed: on PostgreSQL one read of the attempt and one statement
(ivr.campaigns.placed_status), leaving the attempt, contact and campaign as the transactional path does
(calllog.apply_status and attempts.on_status, which SQLite and the journal's replay run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.calls import log as calllog
from ivr.campaigns import attempts, placed_status
from ivr.models import Attempt, CallEvent, Campaign, Contact

from ..campaign_helpers import CALLER_ID, contacts, load, new_campaign
from ..conftest import OPEN
from ..helpers import call_row
from ..twilio import TwilioClient, new_sid
from ..voice.roundtrips import RoundTrips

PHONES = ("+15125550160", "+15125550161")


@dataclass(frozen=True)
class Placed:
    """A campaign running with its contacts being dialled, and the attempt of the first one."""

    campaign_id: int
    attempt_id: int
    sid: str


def _placed(
    app: Flask, session: Session, name: str, *, linked: bool, tries: int = 1, others: int = 0,
    campaign_state: str = "running", **settings: Any,
) -> Placed:  # fmt: skip
    campaign = new_campaign(app, session, name, **settings)
    load(session, campaign, "phone\n" + "".join(f"{p}\n" for p in PHONES[: 1 + others]))
    found = contacts(session, campaign)
    session.execute(
        update(Contact).where(Contact.campaign_id == campaign.id).values(state="dialling", attempts=tries)
    )
    session.execute(update(Campaign).where(Campaign.id == campaign.id).values(state=campaign_state))
    sid = new_sid()
    made = Attempt(
        campaign_id=campaign.id, contact_id=found[PHONES[0]].id, number=tries, requested_at=OPEN,
        call_sid=sid if linked else None, status="queued" if linked else "pending",
    )  # fmt: skip
    session.add(made)
    session.commit()
    return Placed(campaign.id, made.id, sid)


def _params(twilio: TwilioClient, placed: Placed, status: str, sequence: int, **extra: str) -> dict[str, str]:
    to = extra.pop("To", PHONES[0])
    return twilio.call_params(
        placed.sid, CALLER_ID, to, status, Direction="outbound-api", SequenceNumber=str(sequence), **extra
    )


def _by_http(twilio: TwilioClient, placed: Placed, callbacks: list[dict[str, str]]) -> None:
    for params in callbacks:
        assert twilio.post(f"/voice/status?attempt={placed.attempt_id}", params).status_code == 204


def _by_session(session: Session, placed: Placed, callbacks: list[dict[str, str]]) -> None:
    """The transactional path: what the status handler does (SQLite, the journal's replay)."""
    for params in callbacks:
        if calllog.apply_status(session, params, OPEN):
            attempts.on_status(session, params, str(placed.attempt_id), OPEN)
        session.commit()


def _state(session: Session, placed: Placed) -> dict[str, Any]:
    """What the callbacks left, without ids and CallSids."""
    session.expire_all()
    attempt = session.get_one(Attempt, placed.attempt_id)
    contact = session.get_one(Contact, attempt.contact_id)
    campaign = session.get_one(Campaign, placed.campaign_id)
    others = session.scalars(
        select(Contact.state).where(Contact.campaign_id == campaign.id, Contact.id != contact.id)
    )
    return {
        "attempt": (attempt.call_sid == placed.sid, attempt.status, attempt.answered_by, attempt.duration,
                    attempt.ended_at),
        "contact": (contact.state, contact.attempts, contact.next_attempt_at, contact.last_outcome,
                    contact.last_error),
        "others": sorted(others),
        "campaign": (campaign.state, campaign.updated_at if campaign.state == "finished" else None),
    }  # fmt: skip


SCENARIOS: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, str]]]]] = {
    "a person answers, the last contact: done, campaign finished": (
        {"linked": False},
        [
            ("initiated", {}),
            ("ringing", {}),
            ("in-progress", {"AnsweredBy": "human"}),
            ("completed", {"CallDuration": "30"}),
        ],
    ),
    "busy with tries left: due after the campaign's spacing": (
        {"linked": True, "retry_seconds": {"busy": 120}},
        [("ringing", {}), ("busy", {"CallDuration": "0"})],
    ),
    "no answer at the last try: failed, campaign finished": (
        {"linked": True, "tries": 3, "max_attempts": 3},
        [("no-answer", {})],
    ),
    "a machine hung up on: due again": (
        {"linked": True, "machine_detection": "hangup"},
        [("completed", {"AnsweredBy": "machine_end_beep", "CallDuration": "4"})],
    ),
    "a cancelled campaign: its contact is cancelled, not due": (
        {"linked": True, "campaign_state": "cancelled"},
        [("busy", {})],
    ),
    "another contact still dialled: the campaign runs on": (
        {"linked": True, "others": 1},
        [("completed", {"AnsweredBy": "human", "CallDuration": "12"})],
    ),
    "late and repeated callbacks never move an attempt back or settle it twice": (
        {"linked": False, "retry_seconds": {"no-answer": 60}},
        [("no-answer", {}), ("ringing", {}), ("no-answer", {}), ("completed", {"AnsweredBy": "human"})],
    ),
    "a hint naming another number's attempt is not linked": (
        {"linked": False},
        [("completed", {"To": "+15125550999", "AnsweredBy": "human"})],
    ),
    "an unknown status moves nothing but keeps AnsweredBy": (
        {"linked": True},
        [("paused", {"AnsweredBy": "fax"})],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_placed_calls_callbacks_leave_what_the_transactional_path_leaves(app, twilio, session, name):
    settings, steps = SCENARIOS[name]
    served = _placed(app, session, "Served", **settings)
    direct = _placed(app, session, "Direct", **settings)
    _by_http(twilio, served, [_params(twilio, served, s, i, **x) for i, (s, x) in enumerate(steps)])
    _by_session(session, direct, [_params(twilio, direct, s, i, **x) for i, (s, x) in enumerate(steps)])
    assert _state(session, served) == _state(session, direct)
    assert call_row(session, served.sid).status == call_row(session, direct.sid).status


def test_what_the_scenarios_leave(app, twilio, session):
    """The expected values themselves, for two of the scenarios (the comparison above holds either way)."""
    person = _placed(app, session, "Person", linked=False)
    _by_http(twilio, person, [
        _params(twilio, person, "in-progress", 1, AnsweredBy="human"),
        _params(twilio, person, "completed", 2, CallDuration="30"),
    ])  # fmt: skip
    state = _state(session, person)
    assert state["attempt"][:4] == (True, "completed", "human", 30)
    assert state["contact"][0] == "done" and state["contact"][3] == "human"
    assert state["campaign"] == ("finished", OPEN)
    busy = _placed(app, session, "Busy", linked=True, retry_seconds={"busy": 120}, others=1)
    _by_http(twilio, busy, [_params(twilio, busy, "busy", 1)])
    state = _state(session, busy)
    assert state["contact"][:4] == ("pending", 1, OPEN + timedelta(seconds=120), "busy")
    assert state["campaign"] == ("running", None)


def test_a_placed_calls_status_costs_one_read_and_one_statement(app, twilio, session):
    placed = _placed(app, session, "Trips", linked=False)
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    twilio.post(f"/voice/status?attempt={placed.attempt_id}", _params(twilio, placed, "ringing", 1))
    with counter.counting():
        params = _params(twilio, placed, "completed", 2, AnsweredBy="human", CallDuration="9")
        assert twilio.post(f"/voice/status?attempt={placed.attempt_id}", params).status_code == 204
    if app.extensions["ivr.db"].engine.dialect.name == "postgresql":
        assert counter.trips == 2
    assert _state(session, placed)["contact"][0] == "done"
    call = call_row(session, placed.sid)
    kinds = session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id))
    assert list(kinds) == ["status", "status"]


def test_an_attempt_changed_between_the_read_and_the_write_is_read_again(app, twilio, session, monkeypatch):
    """Another request (the answered call's first step) keeps AnsweredBy between this callback's read and
    its statement: the statement writes nothing, the attempt is read again, and both changes stay. (SQLite
    runs the transactional path, which reads nothing before its transaction: there the change comes first.)"""
    on_postgresql = app.extensions["ivr.db"].engine.dialect.name == "postgresql"
    placed = _placed(app, session, "Raced", linked=True, machine_detection="hangup")
    reads = []
    real = placed_status._attempt

    def racing(*args: Any) -> Any:
        found = real(*args) if on_postgresql else args[0]
        if not reads:
            session.execute(
                update(Attempt).where(Attempt.id == placed.attempt_id).values(answered_by="machine_start")
            )
            session.commit()
        reads.append(found.answered_by)
        return found

    monkeypatch.setattr(placed_status, "_attempt", racing)
    if not on_postgresql:
        racing(session.get_one(Attempt, placed.attempt_id))  # the other request's change, then the callback
        reads.clear()
    _by_http(twilio, placed, [_params(twilio, placed, "completed", 1, CallDuration="5")])
    assert reads == ([None, "machine_start"] if on_postgresql else [])
    state = _state(session, placed)
    assert state["attempt"][1:3] == ("completed", "machine_start")
    assert state["contact"][0] == "pending" and state["contact"][3] == "machine"  # hung up on: due again
    status_events = session.scalars(
        select(CallEvent.id).where(CallEvent.call_id == call_row(session, placed.sid).id)
    )
    assert len(list(status_events)) == 1  # the first statement wrote nothing, not even the call log's part
