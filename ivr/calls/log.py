"""The call log: call rows, their append-only events, and status callbacks applied idempotently.
Core statements (they run on every webhook); each write of a row sets updated_at (docs/call-log.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, TextualSelect, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..db import Executor, InsertOrSkip, connection_of
from ..engine import LogEntry, StepResult
from ..engine.agent_line import Leg, LegChange
from ..engine.params import int_param
from ..models import STATUS_RANK, TERMINAL_STATUSES, Call, CallEvent, StatusCallback

CALLS = cast(Table, Call.__table__)
EVENTS = cast(Table, CallEvent.__table__)
STATUS_CALLBACKS = cast(Table, StatusCallback.__table__)
# the pages' and transactional steps' Session, or a webhook's held connection (on SQLite its driver runner,
# ivr.calls.driver: statements built once here, not per request)
Bind = Session | Connection | Executor


@dataclass(frozen=True)
class CallRef:
    """What a call step needs of a call's row."""

    id: int
    site_version_id: int | None
    node: str | None
    variables: dict[str, Any]
    tries: dict[str, Any]
    path: str | None = None


def get_call(session: Session, call_sid: str) -> Call | None:
    """The call with this CallSid as an ORM object (for pages and the API)."""
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).first()


# Built once: statements on the tables themselves (not the ORM classes) with bound parameters skip the
# ORM's execution path and most of the per-request statement building.
FIND_CALL = select(
    CALLS.c.id, CALLS.c.site_version_id, CALLS.c.node, CALLS.c.variables, CALLS.c.tries, CALLS.c.path
).where(CALLS.c.call_sid == bindparam("sid"))
UPDATE_CALL = update(CALLS).where(CALLS.c.id == bindparam("row_id"))  # SET columns come from the parameters
INSERT_EVENTS = insert(EVENTS)
UPDATABLE = frozenset(CALLS.c.keys()) - {"id", "updated_at"}  # computed once: checked on every step
ADVANCE_STATUS = UPDATE_CALL.where(CALLS.c.status_rank < bindparam("rank"))  # never back to a lower rank
FIRST_END = UPDATE_CALL.where(CALLS.c.ended_at.is_(None))  # the first terminal callback sets the end


def find_call(session: Bind, call_sid: str) -> CallRef | None:
    """The step-relevant columns of the call with this CallSid, if ivr has seen it."""
    row = connection_of(session).execute(FIND_CALL, {"sid": call_sid}).first()
    return CallRef(*row) if row is not None else None


def changed_now() -> datetime:
    """When a row is written, by the wall clock: updated_at orders the API's sync, so it is never a call's
    own (simulated or replayed) time."""
    return datetime.now(UTC)


def _update_call(session: Bind, call_id: int, values: Mapping[str, Any]) -> None:
    unknown = set(values) - UPDATABLE
    assert values and not unknown, f"not columns to update: {sorted(unknown)}"
    connection_of(session).execute(UPDATE_CALL, {"row_id": call_id, **values, "updated_at": changed_now()})


# -- the legs of a bridge (the agent line) ---------------------------------------------------------


FIND_LEG = select(
    CALLS.c.id, CALLS.c.call_sid, CALLS.c.role, CALLS.c.desk, CALLS.c.agent, CALLS.c.site_version_id,
    CALLS.c.node, CALLS.c.variables, CALLS.c.tries, CALLS.c.peer_call_sid,
).where(CALLS.c.call_sid == bindparam("sid"))  # fmt: skip


def find_leg(session: Bind, call_sid: str) -> Leg | None:
    """The leg with this CallSid, if ivr has seen it."""
    row = connection_of(session).execute(FIND_LEG, {"sid": call_sid}).first()
    return Leg(*row) if row is not None else None


def update_leg(session: Bind, call_id: int, **values: Any) -> None:
    """Set columns of a call's row (role, desk, agent, peer_call_sid, talk_time, node, ...)."""
    _update_call(session, call_id, values)


def save_legs(session: Bind, changes: Iterable[LegChange], now: datetime) -> None:
    """Store an agent-line step made `now`: each leg's updates, then the events logged on it, in order."""
    for change in changes:
        values = change.updates.changed()
        if values:
            update_leg(session, change.leg_id, **values)
        add_events(session, change.leg_id, change.log, now)


def fit(value: str, column: Any) -> str:
    """A parameter cut to its column's length (Twilio's own values always fit)."""
    length: int | None = getattr(column.type, "length", None)
    return value[:length]


def call_values(params: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """A new call row's columns, made from a Twilio request's parameters, started `now`."""
    status = params.get("CallStatus", "ringing")
    return {
        "call_sid": params["CallSid"],
        "parent_call_sid": params.get("ParentCallSid") or None,
        "account_sid": params.get("AccountSid", ""),
        "direction": fit(params.get("Direction", "inbound"), CALLS.c.direction),
        # a call ivr placed (a campaign's) reaches a callee; the agent line marks its legs 'agent' itself
        "role": "callee" if params.get("Direction", "").startswith("outbound") else "caller",
        "from_number": params.get("From", ""),
        "to_number": params.get("To", ""),
        "status": fit(status, CALLS.c.status),
        "status_rank": STATUS_RANK.get(status, 0),
        "started_at": now,
        "variables": {},
        "tries": {},
        "errors": 0,
        "updated_at": changed_now(),
    }


@cache
def new_call(columns: tuple[str, ...]) -> TextualSelect:
    """INSERT of a call's `columns` unless its CallSid is logged, RETURNING its id; built once per column set.
    (Not `InsertOrSkip`: compiled for PostgreSQL, its JSONB parameters come out as `:name::JSONB`, which
    text() does not take for a parameter.)"""
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    sql = f"INSERT INTO calls ({names}) VALUES ({values}) ON CONFLICT DO NOTHING RETURNING id"
    typed = [bindparam(name, type_=CALLS.c[name].type) for name in columns]
    return text(sql).bindparams(*typed).columns(CALLS.c.id)


NEW_CALL = tuple(call_values({"CallSid": ""}, changed_now()))


def insert_call(session: Bind, params: Mapping[str, str], now: datetime) -> CallRef:
    """A new call row made from a Twilio request's parameters, started `now`."""
    call_id = connection_of(session).execute(new_call(NEW_CALL), call_values(params, now)).scalar()
    if call_id is None:  # another request for this call (a status callback, a retry) logged it first
        found = find_call(session, params["CallSid"])
        assert found is not None
        return found
    return CallRef(call_id, None, None, {}, {})


def find_or_insert_call(session: Bind, params: Mapping[str, str], now: datetime) -> CallRef:
    """The call of this request, logged now if ivr has not seen it before."""
    return find_call(session, params["CallSid"]) or insert_call(session, params, now)


def add_events(session: Bind, call_id: int, entries: Iterable[LogEntry], now: datetime) -> None:
    """Append log entries, made `now`, to a call's timeline in one statement."""
    rows = [{"call_id": call_id, "at": now, "kind": e.kind, "node": e.node, "data": e.data} for e in entries]
    if rows:
        connection_of(session).execute(INSERT_EVENTS, rows)


def add_event(
    session: Bind, call_id: int, kind: str, node: str | None = None, *, now: datetime, **data: Any
) -> None:
    """Append one event, made `now`, to a call's timeline."""
    add_events(session, call_id, [LogEntry(kind, node, data)], now)


def step_values(version_id: int, result: StepResult) -> dict[str, Any]:
    """The columns a flow step sets on its call: where it now is, its variables and the row updates."""
    values: dict[str, Any] = {
        "site_version_id": version_id,
        "flow": result.state.flow,
        "node": result.state.node,
        "variables": dict(result.state.variables),
        "tries": dict(result.state.tries),
    }
    for column, value in result.updates.changed().items():  # CallUpdates fields are named after columns
        values[column] = fit(value, CALLS.c[column]) if isinstance(value, str) else value
    return values


def note_error(session: Bind, call: CallRef, path: str, error: str, now: datetime) -> None:
    """Count an error on the call and put it in the timeline."""
    more = (
        update(CALLS).where(CALLS.c.id == call.id).values(errors=CALLS.c.errors + 1, updated_at=changed_now())
    )
    connection_of(session).execute(more)
    add_event(session, call.id, "error", call.node, now=now, path=path, error=error)


@dataclass(frozen=True)
class Logged:
    """What a callback that only logs writes on its call: columns to set (maybe none), then events."""

    values: Mapping[str, Any]
    log: Sequence[LogEntry]


def transcription(status: str, text: str) -> Logged:
    """A transcription callback: a completed transcription kept on the call, every callback logged."""
    values = {"transcription": text} if status == "completed" else {}
    return Logged(values, [LogEntry("transcription", None, {"status": status, "text": text})])


def log_callback(session: Bind, params: Mapping[str, str], logged: Logged, now: datetime) -> None:
    """A callback that only logs, made `now`: its call found (or logged from `params`), then `logged`."""
    call = find_or_insert_call(session, params, now)
    if logged.values:
        _update_call(session, call.id, logged.values)
    add_events(session, call.id, logged.log, now)


STATUS_SEEN = InsertOrSkip(
    STATUS_CALLBACKS, ("call_sid", "sequence_number", "status", "received_at"), returning=("call_sid",)
)


def timestamp(value: str | None) -> datetime | None:
    """A callback's Timestamp parameter (RFC 2822) as an aware datetime, if it is one."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # "-0000": UTC, zone unknown


def apply_status(session: Bind, params: Mapping[str, str], now: datetime) -> bool:
    """Apply a status callback, received `now`, once; False when it is a repeat of one already applied.

    Callbacks may arrive twice and out of order: a status only replaces one of a lower rank, so a late
    'ringing' never overwrites 'completed'; the duration is taken from the first terminal callback.
    """
    sid = params["CallSid"]
    status = params.get("CallStatus", "")
    sequence = int_param(params.get("SequenceNumber"))
    if sequence is not None:
        seen = {
            "call_sid": sid,
            "sequence_number": sequence,
            "status": fit(status, CALLS.c.status),
            "received_at": now,
        }
        if STATUS_SEEN.execute(session, seen).first() is None:
            return False
    call = find_or_insert_call(session, params, now)
    duration = int_param(params.get("CallDuration"))
    extra = {"answered_by": params["AnsweredBy"]} if "AnsweredBy" in params else {}
    data: dict[str, object] = {
        "status": status,
        "sequence": sequence,
        "duration": duration,
        "timestamp": params.get("Timestamp"),
    }
    add_events(session, call.id, [LogEntry("status", None, data | extra)], now)
    rank = STATUS_RANK.get(status)
    if rank is None:
        return True
    connection = connection_of(session)
    changed = changed_now()
    advance = {"row_id": call.id, "rank": rank, "status": status, "status_rank": rank, "updated_at": changed}
    connection.execute(ADVANCE_STATUS, advance)
    if status in TERMINAL_STATUSES:
        ended = timestamp(params.get("Timestamp")) or now
        end = {"row_id": call.id, "duration": duration, "ended_at": ended, "updated_at": changed}
        connection.execute(FIRST_END, end)
    return True
