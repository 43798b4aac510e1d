"""After the database fails a webhook, the worker's next webhooks answer the fallback without asking it, until
one probe finds it working again: a hung database costs one wait per interval, not one per request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from ivr.breaker import Breaker

from .test_deadline import hold_write_lock, in_thread, is_the_fallback
from .twilio import xpath

RETRY = 0.5


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    """Short lock waits in webhooks, and half a second before the database is asked again."""
    return config | {
        "WEBHOOK_LOCK_TIMEOUT_SECONDS": 0.2,
        "WEBHOOK_DEADLINE_SECONDS": 1,
        "WEBHOOK_DATABASE_RETRY_SECONDS": RETRY,
    }


def _checkouts(app: Flask) -> list[int]:
    """A list that grows by one each time a connection is taken from the pool."""
    taken: list[int] = []
    event.listen(app.extensions["ivr.db"].engine, "checkout", lambda *_a: taken.append(1))
    return taken


def test_after_a_failure_webhooks_answer_without_the_database_until_a_probe_succeeds(app, call) -> None:
    menu = call.start()
    holder = hold_write_lock(app)
    try:
        assert is_the_fallback(in_thread(lambda: call.press(menu, "1")))  # waited, failed: the breaker opens
        taken = _checkouts(app)
        other = call.__class__(call.twilio)
        assert is_the_fallback(in_thread(other.start))  # a new call meanwhile: answered at once
        assert taken == []  # ... without asking the database
    finally:
        holder.close()
    time.sleep(RETRY)
    again = call.press(menu, "1")  # the probe: the database answers, the call goes on
    assert not is_the_fallback(again)
    assert not app.extensions["ivr.breaker"].is_open
    assert xpath(call.__class__(call.twilio).start(), "/Response/Gather")  # new calls hear the flow again


def test_one_request_probes_while_the_others_still_skip() -> None:
    breaker = Breaker(0.05)
    assert breaker.admit() == "use"
    breaker.trip()
    assert breaker.admit() == "skip"
    time.sleep(0.06)
    assert breaker.admit() == "probe"
    assert breaker.admit() == "skip"  # the probe is out
    breaker.unprobed()  # it ended without using the database
    assert breaker.admit() == "probe"
    breaker.trip()  # the probe failed
    assert breaker.admit() == "skip"
    time.sleep(0.06)
    assert breaker.admit() == "probe"
    breaker.succeed()
    assert breaker.admit() == "use" and not breaker.is_open
