"""Sign-in throttling runs only statements SQLAlchemy can cache: failures counted up to a lock, then a
success, on each test database; and the recorder the cacheability tests rely on does catch a statement
compiled without a cache key."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select

from ivr.db import UTCDateTime, insert_ignoring_conflicts
from ivr.models import Throttle
from ivr.upserts import _FIXED, Compiled

from ..cacheable import recording
from ..conftest import OPEN
from ..web.test_web import PASSWORD
from .test_sign_in_locks import LOCKED, WRONG, _login, _said, _signed_in, client, clock, maria

__all__ = ["clock", "client", "maria"]  # the fixtures of test_sign_in_locks


def test_failed_sign_ins_and_the_lock_they_lead_to_run_cacheable_statements(
    app, client, session, maria, clock
):
    with recording(app.extensions["ivr.db"].engine) as run:
        answers = [_login(client, "maria", WRONG) for _ in range(5)]
        clock.move(minutes=16)
        signed_in = _login(client, "maria", PASSWORD)
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    assert _said(answers[4]).startswith(LOCKED) and _signed_in(signed_in)
    assert len(run.ran("INSERT INTO THROTTLES")) >= 5  # each failure, for the username and the address
    assert run.uncacheable() == []
    session.expire_all()
    assert session.scalars(select(Throttle.scope).where(Throttle.key == "maria")).all() == []  # forgotten


def test_the_recorder_catches_a_statement_without_a_cache_key(app, session) -> None:
    statement = insert_ignoring_conflicts(session, Throttle.__table__).values(
        scope="probe", key="k", failures=1, first_failed_at=OPEN, last_failed_at=OPEN
    )
    with recording(app.extensions["ivr.db"].engine) as run:
        session.execute(statement)
        session.rollback()
    assert [e.where.split(":")[0] for e in run.uncacheable()] == ["?"]  # run by the test, not by ivr


def test_a_value_named_like_one_the_statement_fixes_is_refused(app, session) -> None:
    """A compiled-once upsert binds its fixed values (failures = 1) by names SQLAlchemy chose: a value
    passed under one of them would silently replace it, so it is refused."""
    now = bindparam("now", type_=UTCDateTime())
    probe = Compiled(
        lambda dialect: (
            dialect.insert(Throttle.__table__)
            .values(
                scope=bindparam("scope"),
                key=bindparam("key"),
                failures=1,
                first_failed_at=now,
                last_failed_at=now,
            )
            .on_conflict_do_nothing()
        )
    )
    fixed = sorted(_FIXED[probe.statement(session.get_bind().dialect.name)])
    assert fixed, "the upsert fixes no value: nothing to clash with"
    values = {"scope": "probe", "key": "k", "now": OPEN}
    with pytest.raises(ValueError, match="fixed in the statement"):
        probe.execute(session, values | {fixed[0]: 99})
    probe.execute(session, values)
    assert session.scalars(select(Throttle.failures).where(Throttle.key == "k")).all() == [1]
    session.rollback()
