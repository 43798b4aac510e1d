"""Attempts and contacts as calls progress: status callbacks, Twilio's answers, and reverting an unsent dial.

Used by the worker and by the web process (/voice/status, /voice/outbound). Every change of an attempt is
a conditional UPDATE (a status only moves forward; a CallSid is only set once), so callbacks that arrive
together, twice or out of order, and a worker racing a callback, all leave the same result. Functions
take a session and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, select, update
from sqlalchemy.orm import Session

from ..campaigns import dnc
from ..models import Attempt, Campaign, Contact
from .lifecycle import ACTIVE, FINAL, RANK, after_call, outcome_of
from .rest import FoundCall, Rejected

log = logging.getLogger(__name__)
OPEN_STATES = ("pending", "dialling")


def changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it changed."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 2**31 else None


def link(session: Session, attempt_id: int, call_sid: str) -> bool:
    """Give an attempt its CallSid if it has none; True when the attempt has this CallSid now."""
    session.execute(
        update(Attempt).where(Attempt.id == attempt_id, Attempt.call_sid.is_(None)).values(call_sid=call_sid)
    )
    return session.scalar(select(Attempt.call_sid).where(Attempt.id == attempt_id)) == call_sid


def attempt_for(session: Session, call_sid: str, hint: str | None) -> int | None:
    """The attempt of a call: by its CallSid, else by the attempt id in the callback URL (then linked)."""
    found = session.scalar(select(Attempt.id).where(Attempt.call_sid == call_sid))
    if found is None and hint is not None and hint.isdigit() and len(hint) < 19:
        found = int(hint) if link(session, int(hint), call_sid) else None
    return found


def note_answered_by(session: Session, attempt_id: int, answered_by: str | None) -> None:
    """Keep Twilio's AnsweredBy (machine detection) on the attempt, once."""
    if answered_by:
        session.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id, Attempt.answered_by.is_(None))
            .values(answered_by=answered_by[:32])
        )


def advance(
    session: Session, attempt_id: int, status: str, now: datetime, duration: int | None = None
) -> bool:
    """Move an attempt to `status` unless it is there or further already; a final status settles it."""
    rank = RANK.get(status)
    if rank is None:
        return False
    values: dict[str, object] = {"status": status}
    if status in FINAL:
        values |= {"duration": duration, "ended_at": now}
    earlier = [name for name, other in RANK.items() if other < rank]
    moved = changed(
        session, update(Attempt).where(Attempt.id == attempt_id, Attempt.status.in_(earlier)).values(values)
    )
    if moved != 1:
        return False
    if status in FINAL:
        settle(session, attempt_id, now)
    return True


def on_status(session: Session, params: Mapping[str, str], hint: str | None, now: datetime) -> None:
    """A status callback (applied once to the call log already): move the attempt of the call on."""
    attempt_id = attempt_for(session, params["CallSid"], hint)
    if attempt_id is None:
        return
    note_answered_by(session, attempt_id, params.get("AnsweredBy"))
    advance(session, attempt_id, params.get("CallStatus", ""), now, _int(params.get("CallDuration")))


def settle(session: Session, attempt_id: int, now: datetime) -> None:
    """After an attempt's final status: the contact is done, due again after spacing, or failed."""
    attempt = session.get_one(Attempt, attempt_id, populate_existing=True)
    contact = session.get_one(Contact, attempt.contact_id, populate_existing=True)
    campaign = session.get_one(Campaign, attempt.campaign_id, populate_existing=True)
    outcome = outcome_of(attempt.status, attempt.answered_by)
    after = after_call(
        outcome,
        machine_detection=campaign.machine_detection,
        attempts=contact.attempts,
        max_attempts=campaign.max_attempts,
        retry_seconds=campaign.retry_seconds,
        now=now,
    )
    state = "cancelled" if campaign.state == "cancelled" and after.state == "pending" else after.state
    session.execute(
        update(Contact)
        .where(Contact.id == contact.id, Contact.state == "dialling")
        .values(state=state, next_attempt_at=after.next_attempt_at, last_outcome=outcome, last_error=None)
    )
    finish_if_done(session, campaign.id, now)


def finish_if_done(session: Session, campaign_id: int, now: datetime) -> bool:
    """Mark a running campaign finished when none of its contacts is pending or being dialled."""
    left = session.scalar(
        select(Contact.id).where(Contact.campaign_id == campaign_id, Contact.state.in_(OPEN_STATES)).limit(1)
    )
    if left is not None:
        return False
    done = changed(
        session,
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == "running")
        .values(state="finished", updated_at=now),
    )
    return done == 1


def mark_requested(session: Session, attempt_id: int, now: datetime) -> str:
    """Just before the REST request: 'ok' (requested_at set), 'stopped', 'blocked' (both reverted) or 'gone'.

    The campaign must still be running and the number still not on the do-not-call list: a number added
    or a campaign paused after the contact was claimed is not called.
    """
    row = session.execute(
        select(Campaign.state, Contact.phone)
        .join(Contact, Contact.campaign_id == Campaign.id)
        .join(Attempt, Attempt.contact_id == Contact.id)
        .where(Attempt.id == attempt_id)
    ).first()
    if row is None:
        return "gone"
    if row.state != "running":
        revert(session, attempt_id, now, reason=f"campaign {row.state}")
        return "stopped"
    if dnc.is_blocked(session, row.phone):
        revert(session, attempt_id, now, skipped=True, reason="on the do-not-call list")
        return "blocked"
    moved = changed(
        session,
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.call_sid.is_(None), Attempt.status == "pending")
        .values(requested_at=now),
    )
    return "ok" if moved == 1 else "gone"


def store_sid(session: Session, attempt_id: int, call_sid: str) -> None:
    """Twilio took the call: keep its CallSid; the attempt is queued unless callbacks moved it on."""
    if not link(session, attempt_id, call_sid):
        log.error("attempt %s: Twilio answered CallSid %s but the attempt has another", attempt_id, call_sid)
        return
    session.execute(
        update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "pending").values(status="queued")
    )


def reject(session: Session, attempt_id: int, error: Rejected, now: datetime) -> None:
    """Twilio refused the call (4xx): the attempt failed with its error, and so did the contact."""
    code = error.code or error.status
    failed = changed(
        session,
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status.in_(ACTIVE))
        .values(status="failed", error_code=code, error_message=error.message[:2000], ended_at=now),
    )
    if failed != 1:
        return
    attempt = session.get_one(Attempt, attempt_id, populate_existing=True)
    state = "failed"
    session.execute(
        update(Contact)
        .where(Contact.id == attempt.contact_id, Contact.state == "dialling")
        .values(state=state, last_outcome="error", last_error=f"{code}: {error.message}"[:2000])
    )
    finish_if_done(session, attempt.campaign_id, now)


def revert(
    session: Session,
    attempt_id: int,
    now: datetime,
    *,
    reason: str,
    skipped: bool = False,
    delay: float | None = None,
    error: str | None = None,
) -> bool:
    """Undo an attempt Twilio never placed: delete it; the contact is due again (or skipped, or cancelled).

    Only an attempt without CallSid can be undone; False when there is none (placed, or undone already).
    """
    attempt = session.execute(
        select(Attempt.contact_id, Attempt.campaign_id).where(
            Attempt.id == attempt_id, Attempt.call_sid.is_(None)
        )
    ).first()
    if attempt is None:
        return False
    if changed(session, delete(Attempt).where(Attempt.id == attempt_id, Attempt.call_sid.is_(None))) != 1:
        return False
    campaign_state = session.scalar(select(Campaign.state).where(Campaign.id == attempt.campaign_id))
    values: dict[str, object] = {"attempts": Contact.attempts - 1}
    if skipped:
        values |= {"state": "skipped", "last_outcome": "do-not-call"}
    elif campaign_state == "cancelled":
        values |= {"state": "cancelled"}
    else:
        due = now + timedelta(seconds=delay) if delay else None
        values |= {"state": "pending", "next_attempt_at": due}
    if error is not None:
        values["last_error"] = error[:2000]
    session.execute(
        update(Contact).where(Contact.id == attempt.contact_id, Contact.state == "dialling").values(values)
    )
    log.info("attempt %s not placed (%s): contact %s is due again", attempt_id, reason, attempt.contact_id)
    if skipped or campaign_state == "cancelled":
        finish_if_done(session, attempt.campaign_id, now)
    return True


def adopt(session: Session, attempt_id: int, found: FoundCall, now: datetime) -> None:
    """Recovery found the attempt's call at Twilio: link it and take over its status."""
    store_sid(session, attempt_id, found.sid)
    note_answered_by(session, attempt_id, found.answered_by)
    advance(session, attempt_id, found.status, now)
