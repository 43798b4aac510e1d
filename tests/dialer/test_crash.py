"""`ivr dialer run` as a real process: killed with SIGKILL mid-campaign while a request is in flight,
restarted, and stopped with SIGTERM. No contact is dialled twice and none is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.models import Attempt, Campaign, Contact
from ivr.sim import Caller, Input, VirtualClock, WsgiTransport
from ivr.sim.outbound import Callee, Carrier

from ..conftest import AUTH_TOKEN
from ..dialer_harness import ACCOUNT, PUBLIC, add_reminder_flow, make_campaign, prism_url
from ..prism import TwilioProxy

__all__ = ["prism_url"]  # the module's Prism fixture

CONTACTS = 24
HELD = 8  # the create request whose answer is held back when the worker is killed
WAIT = 90.0  # seconds: generous bounds on things that take a second or two


@pytest.fixture
def config(config: dict[str, Any], flows_dir: Path) -> dict[str, Any]:
    """Real time: the worker runs on the wall clock, and so does the app."""
    add_reminder_flow(flows_dir)
    return config | {"IVR_CLOCK": None}


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, so the calling window stays open during the test."""
    offset = datetime.now(UTC).hour - 12  # Etc/GMT+N is N hours behind UTC
    return f"Etc/GMT{'+' if offset >= 0 else '-'}{abs(offset)}"


def start_worker(
    database_url: str, proxy: TwilioProxy, flows_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    """`ivr dialer run` in its own process, against the proxy in front of Prism."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_API_BASE_URL": proxy.url,
        "DIALER_CPS": "20",
        "DIALER_THREADS": "4",
        "DIALER_POLL_SECONDS": "0.2",
        "DIALER_RECOVERY_SECONDS": "1",
        "FLOWS_DIR": str(flows_dir),
        "SECRET_KEY": "test-secret",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "dialer", "run"], env=env, stdout=out, stderr=out
        )


def until(check: Callable[[], bool], what: str, log: Path, state: Callable[[], object]) -> None:
    """Wait (bounded) until `check()` holds."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {state()}; log:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Make sure a worker does not outlive its test."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


def test_kill_9_mid_campaign_then_restart_and_sigterm(
    app: Flask, database_url: str, prism_url: str, flows_dir: Path, tmp_path: Path
) -> None:
    phones = [f"+151255504{i:02d}" for i in range(CONTACTS)]
    maker = app.extensions["ivr.db"].sessionmaker
    with maker() as s:
        campaign = make_campaign(
            s, [{"phone": p, "timezone": noon_zone()} for p in phones], max_cps=20.0, max_concurrent=100
        )
    carrier = Carrier(
        WsgiTransport(app, AUTH_TOKEN),
        VirtualClock(datetime.now(UTC)),
        lambda _number, _n: Callee("human", Caller.scripted([Input(digits="1")])),
    )
    log = tmp_path / "worker.log"

    def state() -> object:
        with maker() as s:
            contacts = Counter(s.scalars(select(Contact.state)))
            query = select(Attempt.id, Attempt.status, Attempt.requested_at, Attempt.call_sid)
            return contacts, s.execute(query.where(Attempt.status != "completed")).all()

    first = second = None
    with TwilioProxy(prism_url) as proxy:
        try:
            proxy.hold_at = HELD
            first = start_worker(database_url, proxy, flows_dir, log)
            until(proxy.holding.is_set, "the held request", log, state)
            first.send_signal(signal.SIGKILL)  # kill -9 while that request waits for Twilio's answer
            assert first.wait(WAIT) == -signal.SIGKILL
            proxy.release.set()
            held = proxy.taken[HELD - 1]

            with maker() as s:
                orphan = s.scalars(select(Attempt).join(Contact).where(Contact.phone == held.to)).one()
                assert (
                    orphan.requested_at is not None and orphan.call_sid is None
                )  # sent; its CallSid never stored
            played = {held.sid}  # its call is held up at the carrier until the restarted worker adopts it
            for taken in list(proxy.taken):
                if taken.sid not in played:
                    carrier.took(taken.sid, taken.params)
                    played.add(taken.sid)
            carrier.run_pending()

            second = start_worker(database_url, proxy, flows_dir, log)

            def adopted() -> bool:
                with maker() as s:
                    return s.scalar(select(Attempt.call_sid).where(Attempt.id == orphan.id)) == held.sid

            until(adopted, "the restarted worker to adopt the call Twilio has", log, state)
            carrier.took(held.sid, held.params)

            def finished() -> bool:
                for taken in list(proxy.taken):
                    if taken.sid not in played:
                        carrier.took(taken.sid, taken.params)
                        played.add(taken.sid)
                carrier.run_pending()
                with maker() as s:
                    return s.scalar(select(Campaign.state).where(Campaign.id == campaign.id)) == "finished"

            until(finished, "the campaign to finish", log, state)
            second.send_signal(signal.SIGTERM)
            assert second.wait(WAIT) == 0, log.read_text()[-3000:]
        finally:
            stop(first)
            stop(second)

    dialled = Counter(str(form["To"]) for form in proxy.creates)
    assert dialled == Counter(phones)  # every contact exactly once: no double dial, none lost
    assert {result.ok for result in carrier.results.values()} == {True}
    with maker() as s:
        rows = s.execute(select(Contact.phone, Contact.state, Contact.attempts)).all()
        assert sorted(rows) == [(p, "done", 1) for p in phones]
        query = select(Contact.phone, Attempt.call_sid, Attempt.requested_at).join(Contact)
        final = {phone: (sid, requested) for phone, sid, requested in s.execute(query)}
    assert {phone: sid for phone, (sid, _at) in final.items()} == {t.to: t.sid for t in proxy.taken}
    assert None not in {requested for _sid, requested in final.values()}  # the unsent were given back
    assert "adopting call" in log.read_text()
