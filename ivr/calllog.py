"""The call log: call rows, their append-only events, and status callbacks applied idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import utcnow
from .engine import LogEntry, StepResult
from .models import STATUS_RANK, TERMINAL_STATUSES, Call, CallEvent, StatusCallback

ROW_UPDATES = frozenset(
    {
        "desk",
        "queue_time",
        "queue_result",
        "talk_time",
        "agent",
        "survey_score",
        "recording_url",
        "recording_duration",
    }
)


def get_call(session: Session, call_sid: str) -> Call | None:
    """The call with this CallSid, if ivr has seen it."""
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).first()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def new_call(session: Session, params: Mapping[str, str]) -> Call:
    """A call row made from a Twilio request's parameters."""
    status = params.get("CallStatus", "ringing")
    call = Call(
        call_sid=params["CallSid"],
        parent_call_sid=params.get("ParentCallSid") or None,
        account_sid=params.get("AccountSid", ""),
        direction=params.get("Direction", "inbound"),
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        status=status,
        status_rank=STATUS_RANK.get(status, 0),
        variables={},
        tries={},
        errors=0,
    )
    session.add(call)
    session.flush()
    return call


def add_event(session: Session, call: Call, kind: str, node: str | None = None, **data: Any) -> None:
    """Append one event to a call's timeline."""
    session.add(CallEvent(call_id=call.id, kind=kind, node=node, data=data, at=utcnow()))


def add_events(session: Session, call: Call, entries: Iterable[LogEntry]) -> None:
    """Append the engine's log entries to a call's timeline."""
    at = utcnow()
    session.add_all(CallEvent(call_id=call.id, kind=e.kind, node=e.node, data=e.data, at=at) for e in entries)


def apply_step(session: Session, call: Call, version_id: int, result: StepResult) -> None:
    """Store where the call now is in its flow, its variables, the row updates and the step's log."""
    call.site_version_id = version_id
    call.flow = result.state.flow
    call.node = result.state.node
    call.variables = dict(result.state.variables)
    call.tries = dict(result.state.tries)
    for key, value in result.updates.items():
        if key in ROW_UPDATES:
            setattr(call, key, value)
    add_events(session, call, result.log)


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def apply_status(session: Session, params: Mapping[str, str]) -> bool:
    """Apply a status callback once; False when it is a repeat of one already applied.

    Callbacks may arrive twice and out of order: a status only replaces one of a lower rank, so a late
    'ringing' never overwrites 'completed'; the duration is taken from the first terminal callback.
    """
    sid = params["CallSid"]
    status = params.get("CallStatus", "")
    sequence = _int(params.get("SequenceNumber"))
    if sequence is not None:
        try:
            with session.begin_nested():
                session.add(StatusCallback(call_sid=sid, sequence_number=sequence, status=status))
        except IntegrityError:
            return False
    call = get_call(session, sid) or new_call(session, params)
    duration = _int(params.get("CallDuration"))
    add_event(
        session,
        call,
        "status",
        status=status,
        sequence=sequence,
        duration=duration,
        timestamp=params.get("Timestamp"),
        **({"answered_by": params["AnsweredBy"]} if "AnsweredBy" in params else {}),
    )
    rank = STATUS_RANK.get(status)
    if rank is None:
        return True
    session.execute(
        update(Call)
        .where(Call.id == call.id, Call.status_rank < rank)
        .values(status=status, status_rank=rank)
    )
    if status in TERMINAL_STATUSES:
        ended = _timestamp(params.get("Timestamp")) or utcnow()
        session.execute(
            update(Call)
            .where(Call.id == call.id, Call.ended_at.is_(None))
            .values(duration=duration, ended_at=ended)
        )
    session.expire(call)
    return True
