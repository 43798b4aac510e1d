"""Attempts a dead worker left behind, status callbacks of campaign calls, and the outbound webhook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.dialer.recovery import Recovered, recover
from ivr.models import Attempt, Call, Campaign, Contact
from ivr.sim import VirtualClock

from ..conftest import OPEN
from ..dialer_harness import CALLER_ID, EVENTS, PUBLIC, Bench, add_reminder_flow, make_campaign, prism_url
from ..prism import Taken
from ..twilio import TwilioClient, new_sid, one, parse, xpath

__all__ = ["prism_url"]  # the module's Prism fixture

P, Q, R, S = "+15125550111", "+15125550112", "+15125550113", "+15125550114"


@pytest.fixture
def clock() -> VirtualClock:
    """The time line shared by the worker, the app and the simulated calls."""
    return VirtualClock(OPEN)


@pytest.fixture
def config(config: dict[str, Any], flows_dir: Path, clock: VirtualClock) -> dict[str, Any]:
    """The app reads the virtual clock; the flows folder has the campaign's flow."""
    add_reminder_flow(flows_dir)
    return config | {"IVR_CLOCK": clock.now}


@pytest.fixture
def bench(app: Flask, prism_url: str, clock: VirtualClock) -> Iterator[Bench]:
    """The test bench; its worker's leases are released at the end."""
    made = Bench(app, prism_url, clock)
    yield made
    made.worker.leases.close()


def _dialling(bench: Bench, phones: dict[str, datetime | None]) -> dict[str, int]:
    """Contacts being dialled with an attempt each (requested_at as given, no CallSid): attempt ids."""
    ids = {}
    with bench.session() as s:
        campaign = make_campaign(s, [{"phone": p} for p in phones])
        for phone, requested in phones.items():
            contact = s.scalars(select(Contact).where(Contact.phone == phone)).one()
            contact.state, contact.attempts = "dialling", 1
            attempt = Attempt(
                campaign_id=campaign.id,
                contact_id=contact.id,
                number=1,
                created_at=OPEN,
                requested_at=requested,
            )
            s.add(attempt)
            s.flush()
            ids[phone] = attempt.id
        s.commit()
    return ids


def _create_params(phone: str, attempt_id: int) -> dict[str, Any]:
    return {
        "To": phone, "From": CALLER_ID, "Url": f"{PUBLIC}/voice/outbound/{attempt_id}",
        "StatusCallback": f"{PUBLIC}/voice/status?attempt={attempt_id}", "StatusCallbackEvent": EVENTS,
    }  # fmt: skip


def test_orphans_are_recovered_without_double_dials(bench: Bench, clock: VirtualClock) -> None:
    now = clock.now()
    long_ago = now - timedelta(seconds=300)
    ids = _dialling(bench, {P: None, Q: now - timedelta(seconds=10), R: long_ago, S: long_ago})
    placed = new_sid()  # Twilio took R's request, but the worker died before it stored the CallSid
    bench.record.taken.append(Taken(placed, R, CALLER_ID, long_ago, _create_params(R, ids[R])))

    done = recover(bench.worker.maker, bench.worker.leases, bench.rest, now, grace=120)

    assert done == Recovered(reverted=2, adopted=1, waiting=1)
    assert bench.attempts(P) == [] and bench.attempts(S) == []  # never sent, or Twilio has no such call
    for phone in (P, S):
        contact = bench.contact(phone)
        assert (contact.state, contact.attempts, contact.next_attempt_at) == ("pending", 0, None)
    (waiting,) = bench.attempts(Q)
    assert (waiting.call_sid, bench.contact(Q).state) == (None, "dialling")  # its callbacks may still come
    (adopted,) = bench.attempts(R)
    assert (adopted.call_sid, adopted.status) == (placed, "queued")
    lookups = [sent for sent in bench.record.sent if sent.method == "GET"]
    assert sorted((sent.params["To"], sent.params["From"], sent.status) for sent in lookups) == [
        (R, CALLER_ID, 200), (S, CALLER_ID, 200)
    ]  # Prism validated the look-ups  # fmt: skip

    bench.carrier.took(placed, _create_params(R, ids[R]))  # R's call goes on
    bench.run()
    assert {p: bench.contact(p).state for p in (P, Q, R, S)} == dict.fromkeys((P, Q, R, S), "done")
    for phone in (P, Q, R, S):
        assert len(bench.attempts(phone)) == 1
    assert sorted(c.params["To"] for c in bench.creates()) == [P, Q, S]  # R was not dialled again


def test_an_orphan_held_by_a_live_worker_is_left_alone(bench: Bench, clock: VirtualClock) -> None:
    ids = _dialling(bench, {P: None})
    assert bench.worker.leases.hold(ids[P])  # in flight in this worker
    done = recover(bench.worker.maker, bench.worker.leases, bench.rest, clock.now(), grace=120)
    assert done == Recovered()
    assert [a.id for a in bench.attempts(P)] == [ids[P]]


def _status(twilio: TwilioClient, sid: str, status: str, seq: int, attempt: int | None, **extra: str) -> None:
    url = "/voice/status" + (f"?attempt={attempt}" if attempt is not None else "")
    params = twilio.call_params(
        sid,
        caller=CALLER_ID,
        called=P,
        status=status,
        Direction="outbound-api",
        SequenceNumber=str(seq),
        **extra,
    )
    assert twilio.post(url, params).status_code == 204


def test_status_callbacks_link_the_attempt_and_settle_the_contact_once(
    bench: Bench, twilio: TwilioClient
) -> None:
    ids = _dialling(bench, {P: OPEN})
    sid = new_sid()
    _status(twilio, sid, "initiated", 0, ids[P])  # before the worker stored the CallSid
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status) == (sid, "initiated")
    _status(twilio, sid, "completed", 3, ids[P], CallDuration="42")
    _status(twilio, sid, "ringing", 1, ids[P])  # late
    _status(twilio, sid, "completed", 3, ids[P], CallDuration="42")  # delivered twice
    _status(twilio, new_sid(), "completed", 0, ids[P], CallDuration="9")  # another call naming it: ignored
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status, attempt.duration) == (sid, "completed", 42)
    contact = bench.contact(P)
    assert (contact.state, contact.last_outcome, contact.attempts) == ("done", "human", 1)
    with bench.session() as s:
        assert s.scalars(select(Campaign.state)).one() == "finished"
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.direction, call.status, call.duration) == ("outbound-api", "completed", 42)


def test_a_busy_callback_makes_the_contact_due_after_the_spacing(bench: Bench, twilio: TwilioClient) -> None:
    ids = _dialling(bench, {P: OPEN})
    sid = new_sid()
    _status(twilio, sid, "busy", 2, ids[P], CallDuration="0")
    contact = bench.contact(P)
    assert (contact.state, contact.last_outcome) == ("pending", "busy")
    assert contact.next_attempt_at == OPEN + timedelta(seconds=600)


def test_the_outbound_webhook_for_an_unknown_attempt_hangs_up(bench: Bench, twilio: TwilioClient) -> None:
    ids = _dialling(bench, {P: OPEN})
    params = twilio.call_params(
        new_sid(), caller=CALLER_ID, called=P, status="in-progress", Direction="outbound-api"
    )
    root = parse(twilio.post(f"/voice/outbound/{ids[P] + 100}", params))
    assert xpath(root, "//Hangup")
    assert bench.attempts(P)[0].call_sid is None


def test_the_outbound_webhook_runs_the_flow_with_the_contacts_variables(
    bench: Bench, twilio: TwilioClient
) -> None:
    ids = _dialling(bench, {P: OPEN})
    with bench.session() as s:
        contact = s.scalars(select(Contact).where(Contact.phone == P)).one()
        contact.name, contact.variables = "Pat", {"appointment": "Friday", "caller": "+19995550000"}
        s.commit()
    sid = new_sid()
    params = twilio.call_params(
        sid, caller=CALLER_ID, called=P, status="in-progress", Direction="outbound-api"
    )
    root = parse(twilio.post(f"/voice/outbound/{ids[P]}", params))
    assert "reminder of your appointment" in one(root, "//Gather/Say/text()")
    with bench.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.direction, call.flow, call.node) == ("outbound-api", "reminder", "ask")
        assert call.variables == {"appointment": "Friday", "name": "Pat", "desk": "local"}  # not `caller`
    assert bench.attempts(P)[0].call_sid == sid
