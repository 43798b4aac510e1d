"""Failures counted per key with one atomic statement each, locks that end by themselves or when lifted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts import throttle
from ivr.models import Throttle

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
RULE = throttle.Rule("test.scope", limit=3, window=timedelta(minutes=10), lockout=timedelta(minutes=15))
UNTIL_LIFTED = throttle.Rule("test.admin", limit=2, window=timedelta(hours=1), lockout=None)


def _failures(session: Session, rule: throttle.Rule, key: str) -> int | None:
    return session.scalar(select(Throttle.failures).where(Throttle.scope == rule.scope, Throttle.key == key))


def test_the_limit_th_failure_locks_for_the_lockout_and_the_lock_then_ends(session: Session) -> None:
    assert throttle.fail(session, RULE, "alice", T0) is None
    assert throttle.fail(session, RULE, "alice", T0 + timedelta(minutes=1)) is None
    assert throttle.locked_until(session, RULE, "alice", T0 + timedelta(minutes=1)) is None
    until = throttle.fail(session, RULE, "alice", T0 + timedelta(minutes=2))
    assert until == T0 + timedelta(minutes=17)
    assert throttle.locked_until(session, RULE, "alice", T0 + timedelta(minutes=16)) == until
    assert throttle.locked_until(session, RULE, "alice", T0 + timedelta(minutes=18)) is None
    assert throttle.locked_until(session, RULE, "bob", T0 + timedelta(minutes=3)) is None  # per key
    assert _failures(session, RULE, "alice") == 0  # the count restarts with the lock


def test_failures_older_than_the_window_are_forgotten(session: Session) -> None:
    throttle.fail(session, RULE, "alice", T0)
    throttle.fail(session, RULE, "alice", T0 + timedelta(minutes=1))
    assert throttle.fail(session, RULE, "alice", T0 + timedelta(minutes=11)) is None
    assert _failures(session, RULE, "alice") == 1


def test_a_success_forgets_failures_but_not_a_lock_in_force(session: Session) -> None:
    throttle.fail(session, RULE, "alice", T0)
    throttle.succeed(session, RULE, "alice", T0)
    assert _failures(session, RULE, "alice") is None
    for minute in range(3):
        throttle.fail(session, RULE, "bob", T0 + timedelta(minutes=minute))
    throttle.succeed(session, RULE, "bob", T0 + timedelta(minutes=3))
    assert throttle.locked_until(session, RULE, "bob", T0 + timedelta(minutes=4)) is not None


def test_a_lock_without_lockout_lasts_until_an_admin_lifts_it(session: Session) -> None:
    throttle.fail(session, UNTIL_LIFTED, "carol", T0)
    assert throttle.fail(session, UNTIL_LIFTED, "carol", T0) == throttle.FOREVER
    assert throttle.locked_until(session, UNTIL_LIFTED, "carol", T0 + timedelta(days=400)) == throttle.FOREVER
    assert [lock.key for lock in throttle.current_locks(session, T0, "test.admin")] == ["carol"]
    assert throttle.lift(session, "test.admin", "carol") is True
    assert throttle.lift(session, "test.admin", "carol") is False
    assert throttle.locked_until(session, UNTIL_LIFTED, "carol", T0) is None


def test_concurrent_failures_are_all_counted(app: Flask) -> None:
    rule = throttle.Rule("test.race", limit=1000, window=timedelta(hours=1), lockout=None)
    db = app.extensions["ivr.db"]

    def one_failure(_: int) -> None:
        with db.sessionmaker() as s:
            for _attempt in range(20):
                try:
                    throttle.fail(s, rule, "dave", T0)
                    s.commit()
                    return
                except Exception:  # SQLite: "database is locked" under contention; PostgreSQL never
                    s.rollback()
            raise AssertionError("could not count a failure")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one_failure, range(40)))
    with db.sessionmaker() as s:
        assert _failures(s, rule, "dave") == 40


# (failures counted before, minutes since the first of them): the key's state when one more failure comes
STATES = {
    "no row": None,
    "one short of the limit": (RULE.limit - 1, 1),
    "two short": (RULE.limit - 2, 1),
    "the window passed": (RULE.limit - 1, 11),
    "just locked (the count restarted)": (0, 1),
}


@pytest.mark.parametrize("state", STATES)
def test_locks_next_foretells_what_the_next_failure_does(session: Session, state: str) -> None:
    """`locks_next`, read from the key's row, says whether `fail` now sets the lock (ivr.voice.pin_try
    foretells a PIN try's locks with it)."""
    now = T0 + timedelta(minutes=20)
    given = STATES[state]
    if given is not None:
        failures, minutes = given
        first = now - timedelta(minutes=minutes)
        locked = now + timedelta(minutes=5) if failures == 0 else None
        session.add(Throttle(scope=RULE.scope, key="dan", failures=failures, first_failed_at=first,
                             last_failed_at=first, locked_until=locked))  # fmt: skip
        session.flush()
    read = throttle.counts(session.connection(), [(RULE, "dan"), (UNTIL_LIFTED, "dan")])
    assert set(read) == ({(RULE.scope, "dan")} if given is not None else set())
    foretold = throttle.locks_next(RULE, read.get((RULE.scope, "dan")), now)
    assert foretold == (throttle.fail(session, RULE, "dan", now) is not None)
    assert foretold == (state == "one short of the limit")
