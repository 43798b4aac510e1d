"""What became of a call, as one SQL CASE over its row, so the outcome filter runs in the database.
The names are fixed (API, CSV, pages); docs/call-log.md#outcomes defines each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, exists, literal, not_, or_, select

from ..engine.actions import ABANDONED, BRIDGED, MACHINE_ANSWERS
from ..engine.agent_line import AGENT_ROLE
from ..models import TERMINAL_STATUSES, Attempt, Call, CallEvent

INBOUND_OUTCOMES = ("answered", "abandoned", "voicemail", "after_hours", "overflowed", "ivr_only")
OUTBOUND_OUTCOMES = (
    "outbound_person", "outbound_machine", "outbound_no_answer", "outbound_busy", "outbound_failed",
)  # fmt: skip
OUTCOMES = (*INBOUND_OUTCOMES, "in_progress", *OUTBOUND_OUTCOMES)
LABELS = {
    "answered": "answered",
    "abandoned": "abandoned",
    "voicemail": "voicemail",
    "after_hours": "after hours",
    "overflowed": "overflowed",
    "ivr_only": "ended in the IVR",
    "in_progress": "in progress",
    "outbound_person": "outbound: person",
    "outbound_machine": "outbound: machine",
    "outbound_no_answer": "outbound: no answer",
    "outbound_busy": "outbound: busy",
    "outbound_failed": "outbound: failed",
}
CLOSED = ("closed", "holiday")  # an hours node's results when the schedule is not open


def _machine() -> ColumnElement[bool]:
    """Twilio's machine detection said a machine answered this campaign call."""
    return exists(
        select(literal(1)).where(Attempt.call_sid == Call.call_sid, Attempt.answered_by.in_(MACHINE_ANSWERS))
    )


def _closed() -> ColumnElement[bool]:
    """The flow found its hours closed (or a holiday) on this call."""
    return exists(
        select(literal(1)).where(
            CallEvent.call_id == Call.id,
            CallEvent.kind == "hours",
            CallEvent.data["result"].as_string().in_(CLOSED),
        )
    )


def outcome() -> ColumnElement[Any]:
    """The outcome of a call's row (None for an agent's own leg), in the order the rules are tried."""
    reached_desk = or_(
        Call.queued_at.is_not(None), Call.queue_result.is_not(None), Call.overflow_from.is_not(None)
    )
    inbound = Call.direction.not_like("outbound%")
    return case(
        (Call.role == AGENT_ROLE, None),
        # answered and abandoned are settled when the caller leaves the queue, as the reports count them,
        # even before Twilio's final status callback arrives (or if it is lost)
        (inbound & Call.queue_result.in_(BRIDGED), "answered"),
        (inbound & (Call.queue_result == ABANDONED), "abandoned"),
        (inbound & Call.queue_result.is_(None) & Call.peer_call_sid.is_not(None), "answered"),  # talking now
        (Call.status.not_in(TERMINAL_STATUSES), "in_progress"),
        (
            Call.direction.like("outbound%"),
            case(
                (Call.status == "completed", case((_machine(), "outbound_machine"), else_="outbound_person")),
                (Call.status == "no-answer", "outbound_no_answer"),
                (Call.status == "busy", "outbound_busy"),
                else_="outbound_failed",
            ),
        ),
        (Call.queue_result.in_(BRIDGED), "answered"),
        (Call.queue_result == ABANDONED, "abandoned"),
        (not_(reached_desk) & _closed(), "after_hours"),  # a message left after hours is still after hours
        (Call.recording_url.is_not(None), "voicemail"),
        (reached_desk, "overflowed"),  # sent on by the desk's overflow, wait limit or failover, unanswered
        else_="ivr_only",
    )
