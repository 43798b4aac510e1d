"""Failures counted per scope and key (wrong passwords, wrong PINs), one atomic upsert each, and the locks
they lead to: ending by themselves (`Rule.lockout`) or lasting until an admin lifts them (`lockout=None`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import cast

from sqlalchemy import Integer, Table, bindparam, case, delete, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from ..db import UTCDateTime
from ..models import Throttle
from ..upserts import Compiled

THROTTLES = cast(Table, Throttle.__table__)
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)  # a lock only an admin lifts


@dataclass(frozen=True)
class Rule:
    """How one scope is throttled: `limit` failures within `window` lock the key for `lockout` (None: until
    an admin lifts it)."""

    scope: str
    limit: int
    window: timedelta
    lockout: timedelta | None


def locked_until(session: Session, rule: Rule, key: str, now: datetime) -> datetime | None:
    """When the key's lock ends (FOREVER: until lifted), or None when it is not locked now."""
    query = select(THROTTLES.c.locked_until).where(
        THROTTLES.c.scope == rule.scope, THROTTLES.c.key == key, THROTTLES.c.locked_until > now
    )
    found: datetime | None = session.execute(query).scalar()
    return found


def _failure(dialect: ModuleType) -> Insert:
    """One failure counted: the key's row inserted, or on a conflict counted on (see `fail`)."""
    now, until = bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    limit = bindparam("limit", type_=Integer())
    stale = THROTTLES.c.first_failed_at <= bindparam("window_start", type_=UTCDateTime())
    counted = case((stale, 1), else_=THROTTLES.c.failures + 1)
    insert: Insert = dialect.insert(THROTTLES).values(
        scope=bindparam("scope", type_=THROTTLES.c.scope.type),
        key=bindparam("key", type_=THROTTLES.c.key.type),
        failures=1,
        first_failed_at=now,
        last_failed_at=now,
        locked_until=bindparam("first_lock", type_=UTCDateTime()),
    )
    return insert.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[THROTTLES.c.scope, THROTTLES.c.key],
        set_={
            "failures": case((counted >= limit, 0), else_=counted),
            "first_failed_at": case((stale, now), else_=THROTTLES.c.first_failed_at),
            "last_failed_at": now,
            "locked_until": case((counted >= limit, until), else_=THROTTLES.c.locked_until),
        },
    ).returning(THROTTLES.c.locked_until)


FAILURE = Compiled(_failure, (THROTTLES.c.locked_until,))


def fail(session: Session, rule: Rule, key: str, now: datetime) -> datetime | None:
    """Count one failure for the key, atomically; the end of the lock when this failure locks it, else None.

    Failures older than the window are forgotten: the count restarts at 1. Reaching the limit sets the lock
    and restarts the count, so the key gets `limit` more tries once the lock ends.
    """
    until = FOREVER if rule.lockout is None else now + rule.lockout
    values = {
        "scope": rule.scope,
        "key": key,
        "now": now,
        "window_start": now - rule.window,
        "limit": rule.limit,
        "until": until,
        "first_lock": until if rule.limit <= 1 else None,
    }
    locked: datetime | None = FAILURE.execute(session, values).scalar()
    return locked if locked is not None and locked == until else None


def succeed(session: Session, rule: Rule, key: str, now: datetime) -> None:
    """Forget the key's failures after a success (a lock still in force stays)."""
    session.execute(
        delete(THROTTLES).where(
            THROTTLES.c.scope == rule.scope,
            THROTTLES.c.key == key,
            (THROTTLES.c.locked_until.is_(None)) | (THROTTLES.c.locked_until <= now),
        )
    )


def lift(session: Session, scope: str, key: str) -> bool:
    """Lift a key's lock and forget its failures (an admin's act); False when there was nothing to lift."""
    result = session.execute(delete(THROTTLES).where(THROTTLES.c.scope == scope, THROTTLES.c.key == key))
    return bool(getattr(result, "rowcount", 0))


def current_locks(session: Session, now: datetime, scope: str | None = None) -> list[Throttle]:
    """The locks in force now (of one scope if given), newest first."""
    query = select(Throttle).where(Throttle.locked_until > now).order_by(Throttle.last_failed_at.desc())
    if scope is not None:
        query = query.where(Throttle.scope == scope)
    return list(session.scalars(query))
