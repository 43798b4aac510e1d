"""Failures counted per scope and key (wrong passwords, wrong PINs), one atomic upsert each, and the locks
they lead to: ending by themselves (`Rule.lockout`) or lasting until an admin lifts them (`lockout=None`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BindParameter,
    Delete,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    literal_column,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from ..db import Executor, UTCDateTime
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


def failure_upsert(dialect: ModuleType, prefix: str = "") -> Insert:
    """One failure counted: the key's row inserted, or on a conflict counted on (see `fail`); its binds named
    with `prefix` (several in one statement)."""

    def named(name: str, type_: Any) -> BindParameter[Any]:
        return bindparam(prefix + name, type_=type_)

    now, until = named("now", UTCDateTime()), named("until", UTCDateTime())
    stale = THROTTLES.c.first_failed_at <= named("window_start", UTCDateTime())
    one, zero = literal_column("1", Integer()), literal_column("0", Integer())  # SQL, not binds to fill
    counted = case((stale, one), else_=THROTTLES.c.failures + one)
    reached = counted >= named("limit", Integer())
    insert: Insert = dialect.insert(THROTTLES).values(
        scope=named("scope", THROTTLES.c.scope.type),
        key=named("key", THROTTLES.c.key.type),
        failures=one,
        first_failed_at=now,
        last_failed_at=now,
        locked_until=named("first_lock", UTCDateTime()),
    )
    return insert.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[THROTTLES.c.scope, THROTTLES.c.key],
        set_={
            "failures": case((reached, zero), else_=counted),
            "first_failed_at": case((stale, now), else_=THROTTLES.c.first_failed_at),
            "last_failed_at": now,
            "locked_until": case((reached, until), else_=THROTTLES.c.locked_until),
        },
    ).returning(THROTTLES.c.locked_until)


FAILURE = Compiled(failure_upsert, (THROTTLES.c.locked_until,))


def failure_values(rule: Rule, key: str, now: datetime, prefix: str = "") -> dict[str, Any]:
    """The binds of one failure's statement (`failure_upsert` with the same `prefix`)."""
    until = lock_end(rule, now)
    values = {
        "scope": rule.scope,
        "key": key,
        "now": now,
        "window_start": now - rule.window,
        "limit": rule.limit,
        "until": until,
        "first_lock": until if rule.limit <= 1 else None,
    }
    return {prefix + name: value for name, value in values.items()}


def lock_end(rule: Rule, now: datetime) -> datetime:
    """When a lock the rule sets `now` ends (FOREVER: until lifted)."""
    return FOREVER if rule.lockout is None else now + rule.lockout


def fail(session: Session, rule: Rule, key: str, now: datetime) -> datetime | None:
    """Count one failure for the key, atomically; the end of the lock when this failure locks it, else None.

    Failures older than the window are forgotten: the count restarts at 1. Reaching the limit sets the lock
    and restarts the count, so the key gets `limit` more tries once the lock ends.
    """
    values = failure_values(rule, key, now)
    locked: datetime | None = FAILURE.execute(session, values).scalar()
    return locked if locked is not None and locked == values["until"] else None


class Count(NamedTuple):
    """A key's row as read: its failures in the window, since when, and its lock's end (None: none)."""

    failures: int
    first_failed_at: datetime
    locked_until: datetime | None


SLOTS = 3  # keys one read fetches (a PIN try counts against a caller, a line and an agent)
COUNTS = select(
    THROTTLES.c.scope,
    THROTTLES.c.key,
    THROTTLES.c.failures,
    THROTTLES.c.first_failed_at,
    THROTTLES.c.locked_until,
).where(
    or_(
        *(
            and_(THROTTLES.c.scope == bindparam(f"scope{i}"), THROTTLES.c.key == bindparam(f"key{i}"))
            for i in range(SLOTS)
        )
    )
)


def counts(run: Connection | Executor, keys: Sequence[tuple[Rule, str]]) -> dict[tuple[str, str], Count]:
    """The rows of up to SLOTS keys (a rule's scope and a key), in one read; a key without a row is absent."""
    assert len(keys) <= SLOTS, f"at most {SLOTS} keys a read"
    slots = [(rule.scope, key) for rule, key in keys] + [(None, None)] * (SLOTS - len(keys))
    values = {
        name: value
        for i, (scope, key) in enumerate(slots)
        for name, value in ((f"scope{i}", scope), (f"key{i}", key))
    }
    found = run.execute(COUNTS, values).all()
    return {(scope, key): Count(*rest) for scope, key, *rest in found}


def locks_next(rule: Rule, count: Count | None, now: datetime) -> bool:
    """Whether one more failure counted `now` would lock the key, as `failure_upsert` counts (from a read: a
    failure counted meanwhile makes it wrong)."""
    if count is None:
        return rule.limit <= 1
    counted = 1 if count.first_failed_at <= now - rule.window else count.failures + 1
    return counted >= rule.limit


def forgotten(prefix: str = "") -> Delete:
    """A key's failures forgotten after a success, a lock still in force kept (`succeed`); binds named with
    `prefix`."""
    now = bindparam(prefix + "now", type_=UTCDateTime())
    return delete(THROTTLES).where(
        THROTTLES.c.scope == bindparam(prefix + "scope", type_=THROTTLES.c.scope.type),
        THROTTLES.c.key == bindparam(prefix + "key", type_=THROTTLES.c.key.type),
        (THROTTLES.c.locked_until.is_(None)) | (THROTTLES.c.locked_until <= now),
    )


FORGET = forgotten()


def succeed(session: Session, rule: Rule, key: str, now: datetime) -> None:
    """Forget the key's failures after a success (a lock still in force stays)."""
    session.execute(FORGET, {"scope": rule.scope, "key": key, "now": now})


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
