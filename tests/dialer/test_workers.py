"""The shared calls-per-second budget: slots taken by racing workers, workers placing calls in real time."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.db import make_engine
from ivr.dialer import budget
from ivr.dialer.rest import TwilioRest
from ivr.dialer.worker import Settings, Worker
from ivr.models import Attempt, Contact

from ..conftest import AUTH_TOKEN, OPEN
from ..dialer_harness import ACCOUNT, PUBLIC, add_reminder_flow, make_campaign, prism_url
from ..prism import Record, RecordingHttpClient

__all__ = ["prism_url"]  # the module's Prism fixture


@pytest.fixture
def config(config: dict[str, Any], flows_dir: Path) -> dict[str, Any]:
    """Real time: the workers run on the wall clock."""
    add_reminder_flow(flows_dir)
    return config | {"IVR_CLOCK": None}


def test_racing_workers_take_distinct_slots_spaced_by_the_budget(app: Flask, database_url: str) -> None:
    with app.extensions["ivr.db"].sessionmaker() as s:
        campaign = make_campaign(s, [])
    slots: list[Any] = []
    lock = threading.Lock()

    def take(count: int) -> None:
        engine = make_engine(database_url)  # each worker has its own connections
        try:
            for _ in range(count):
                slot = budget.reserve(engine, campaign.id, OPEN, account_cps=20, campaign_cps=50)
                assert slot.granted
                with lock:
                    slots.append(slot.at)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=take, args=(40,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(slots)
    assert len(set(ordered)) == 80
    gaps = {b - a for a, b in zip(ordered, ordered[1:], strict=False)}
    assert gaps == {budget.spacing(20)}  # back to back, never closer: at most 20 in any second


def _max_in_one_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + 1.0) for i, start in enumerate(ordered))


@pytest.fixture
def workers(app: Flask, database_url: str, prism_url: str) -> Iterator[tuple[list[Worker], Record]]:
    """Two workers on PostgreSQL (one on SQLite, which runs one), each with its own engine, one record."""
    record = Record()
    count = 2 if database_url.startswith("postgresql") else 1
    settings = Settings(ACCOUNT, AUTH_TOKEN, PUBLIC, prism_url, cps=5.0, batch=5, poll=0.1, threads=3)
    engines = [make_engine(database_url) for _ in range(count)]
    made = [
        Worker(
            settings,
            engine,
            TwilioRest(ACCOUNT, AUTH_TOKEN, prism_url, lambda: RecordingHttpClient(prism_url, record)),
        )
        for engine in engines
    ]
    yield made, record
    for engine in engines:
        engine.dispose()


def test_workers_never_exceed_the_shared_budget(app: Flask, workers: tuple[list[Worker], Record]) -> None:
    made, record = workers
    phones = [f"+151255503{i:02d}" for i in range(20)]
    with app.extensions["ivr.db"].sessionmaker() as s:
        make_campaign(
            s,
            [{"phone": p, "timezone": "UTC"} for p in phones],
            window_start="00:00",
            window_end="23:59",
            max_cps=50.0,
            max_concurrent=100,
        )
    threads = [threading.Thread(target=w.run) for w in made]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 90
    while len(record.creates()) < len(phones) and time.monotonic() < deadline:
        time.sleep(0.1)
    for worker in made:
        worker.stop.set()
    for thread in threads:
        thread.join(30)
    creates = record.creates()
    assert sorted(c.params["To"] for c in creates) == phones  # each contact dialled once
    assert {c.status for c in creates} == {201}
    times = [c.at for c in creates]
    assert _max_in_one_second(times) <= 5  # the account's budget: 5 calls per second
    slots = (len(phones) - 1) * budget.spacing(5) / timedelta(seconds=1)
    assert (
        max(times) - min(times) >= slots - budget.LATE
    )  # never faster (a call may start LATE after its slot)
    with app.extensions["ivr.db"].sessionmaker() as s:
        rows = s.execute(
            select(Contact.phone, Attempt.call_sid).join(Attempt, Attempt.contact_id == Contact.id)
        ).all()
    assert Counter(phone for phone, _sid in rows) == Counter(phones)
    assert {sid for _phone, sid in rows} == {c.body["sid"] for c in creates}
    assert not any(thread.is_alive() for thread in threads)
