"""A dialer test bench: the app, the worker on a virtual clock, Prism as Twilio's REST API, the simulator
answering the calls. Shared by the tests/dialer/ modules."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.dialer.clock import ManualClock
from ivr.dialer.rest import TwilioRest
from ivr.dialer.worker import RECOVERY_EVERY, Settings, Worker
from ivr.models import Attempt, Campaign, Contact
from ivr.sim import Agents, VirtualClock, WsgiTransport
from ivr.sim.outbound import Callee, Carrier

from .conftest import AUTH_TOKEN, OPEN
from .prism import Record, RecordingHttpClient, start_prism

ACCOUNT = "AC" + "0" * 32
CALLER_ID = "+15125550100"
PUBLIC = "https://ivr.test"
EVENTS = ["initiated", "ringing", "answered", "completed"]
REMINDER = {
    "$schema": "../ivr/schemas/flow.schema.json",
    "name": "reminder",
    "start": "ask",
    "nodes": {
        "ask": {
            "type": "menu",
            "prompt": "Acme here with a reminder of your appointment. Press 1 to confirm, 2 to talk to us.",
            "options": {"1": "confirmed", "2": "desk"},
            "timeout": "bye",
            "invalid": "bye",
        },
        "confirmed": {"type": "set", "values": {"confirmed": "yes"}, "next": "thanks"},
        "thanks": {"type": "hangup", "prompt": "Thank you. Goodbye."},
        "desk": {"type": "enqueue", "desk": "local", "next": "bye", "timeout": "bye", "failed": "bye"},
        "bye": {"type": "hangup"},
    },
}


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism mocking Twilio's REST API, for the module's tests."""
    with start_prism(tmp_path_factory.mktemp("prism")) as url:
        yield url


def add_reminder_flow(flows_dir: Path) -> None:
    """Put the campaign flow used by the tests into the flows folder."""
    (flows_dir / "reminder.json").write_text(json.dumps(REMINDER))


def make_campaign(session: Session, contacts: list[dict[str, Any]], **settings: Any) -> Campaign:
    """A running campaign (committed) with these contacts (phone, and name, timezone, variables...)."""
    values: dict[str, Any] = {
        "name": "reminders",
        "flow": "reminder",
        "caller_id": CALLER_ID,
        "desk": "local",
        "max_attempts": 3,
        "retry_seconds": {"busy": 600, "no-answer": 1800, "failed": 1800, "machine": 3600},
        "machine_detection": "off",
        "max_cps": 10.0,
        "max_concurrent": 10,
        "state": "running",
        "created_at": OPEN,
        "updated_at": OPEN,
    } | settings
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    for line, contact in enumerate(contacts, start=2):
        row = {"name": "", "timezone": "America/Chicago", "variables": {}} | contact
        session.add(Contact(campaign_id=campaign.id, line=line, state="pending", attempts=0, **row))
    session.commit()
    return campaign


class Bench:
    """The worker, Prism and the carrier simulator on one virtual clock."""

    def __init__(
        self,
        app: Flask,
        prism_url: str,
        clock: VirtualClock,
        fates: Callable[[str, int], Callee] | None = None,
        cps: float = 10.0,
    ) -> None:
        self.app = app
        self.clock = clock
        self.record = Record()
        self.record.now = clock.now
        self.carrier = Carrier(
            WsgiTransport(app, AUTH_TOKEN), clock, fates, Agents(answer_after=5, talk_seconds=60)
        )
        self.record.on_taken = self.carrier.took

        def http() -> RecordingHttpClient:
            client = RecordingHttpClient(prism_url, self.record)
            client.now = lambda: clock.now().timestamp()  # requests are timed on the virtual clock
            return client

        self.rest = TwilioRest(ACCOUNT, AUTH_TOKEN, prism_url, http_client=http)
        self.settings = Settings(
            ACCOUNT, AUTH_TOKEN, PUBLIC, prism_url, cps=cps, batch=20, poll=1.0, threads=0
        )
        self.engine = app.extensions["ivr.db"].engine
        self.worker = Worker(self.settings, self.engine, self.rest, ManualClock(clock), rng=random.Random(5))

    def session(self) -> Session:
        """A new session on the app's database."""
        maker: Callable[[], Session] = self.app.extensions["ivr.db"].sessionmaker
        return maker()

    def next_due(self) -> datetime | None:
        """When the next pending contact of a running campaign is due (None: none is pending)."""
        with self.session() as s:
            pending = select(func.min(Contact.next_attempt_at), func.count()).join(
                Campaign, Campaign.id == Contact.campaign_id
            )
            moment, count = s.execute(
                pending.where(Contact.state == "pending", Campaign.state == "running")
            ).one()
        if not count:
            return None
        return moment or self.clock.now()

    def run(self, rounds: int = 500, until: datetime | None = None) -> None:
        """Dial and play calls until nothing is pending (or the clock reaches `until`)."""
        for _ in range(rounds):
            busy = self.worker.run_once()
            played = self.carrier.run_pending()
            if busy or played:
                continue
            due = self.next_due()
            if self.worker.heap:
                head = self.worker.heap[0][0]
                due = head if due is None else min(due, head)
            if due is None and self.orphans():
                due = self.clock.now() + timedelta(seconds=RECOVERY_EVERY)  # recovery takes them over
            if due is None:
                return
            if until is not None and due >= until:
                self.clock.moment = until
                return
            self.clock.moment = max(self.clock.now() + timedelta(seconds=1), due)
        raise AssertionError("the campaign did not end")

    def orphans(self) -> int:
        """Attempts without CallSid that no callback moved on."""
        with self.session() as s:
            query = select(func.count()).where(Attempt.call_sid.is_(None), Attempt.status == "pending")
            return int(s.scalar(query) or 0)

    def creates(self, number: str | None = None) -> list[Any]:
        """The Calls.create requests (to `number`)."""
        return [s for s in self.record.creates() if number is None or s.params["To"] == number]

    def attempts(self, phone: str) -> list[Attempt]:
        """A contact's attempts, in order."""
        with self.session() as s:
            query = (
                select(Attempt).join(Contact, Contact.id == Attempt.contact_id).where(Contact.phone == phone)
            )
            return list(s.scalars(query.order_by(Attempt.number)))

    def contact(self, phone: str) -> Contact:
        """A contact by number."""
        with self.session() as s:
            return s.scalars(select(Contact).where(Contact.phone == phone)).one()
