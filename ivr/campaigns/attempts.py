"""Attempts and contacts as calls progress: status callbacks, Twilio's answers, and reverting an unsent dial.
Conditional UPDATEs only, so repeated or racing callbacks leave one result (docs/dialer.md). Never commits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Executable, Select, Table, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..bounds import BIGINT_MAX, whole
from ..db import Executor
from ..engine.params import int_param
from ..models import Attempt, Campaign, Contact
from . import dnc, window
from .lifecycle import ACTIVE, FINAL, RANK, fate

# On PostgreSQL a placed call's status callback does `apply` (advance, settle, finish_if_done) in SQL
# (placed_status), and the answered call's webhook does what `link` and `note_answered_by` do with
# answered.LINK: a change here is made there too (tests/campaigns/test_placed_status.py compares the paths).
log = logging.getLogger(__name__)
OPEN_STATES = ("pending", "dialling")
WINDOW = "deferred-window"


class PlacedCall(Protocol):
    """A call Twilio has for an attempt, as its call list tells it."""

    @property
    def sid(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def answered_by(self) -> str | None: ...
    @property
    def duration(self) -> int | None: ...


def with_contact_and_campaign(*columns: Any) -> Select[Any]:
    """A SELECT of `columns` of attempts joined to their contact and their campaign."""
    joined = select(*columns).join(Contact, Contact.id == Attempt.contact_id)
    return joined.join(Campaign, Campaign.id == Attempt.campaign_id)


def changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it changed."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def of_callee(phone: str | None, to: str, call_sid: str, attempt_id: int) -> bool:
    """Whether a call to `to` can be the attempt's, whose contact's number is `phone` (logged when not)."""
    if phone != to:
        log.warning("call %s names attempt %s of another number: ignored", call_sid, attempt_id)
        return False
    return True


def link(session: Session, attempt_id: int, call_sid: str, to: str | None = None) -> bool:
    """Give an attempt its CallSid if it has none; True when the attempt has this CallSid now.

    `to` (the callee of a call named by a callback URL's attempt hint) must be the contact's number, so a
    late callback of a call whose attempt is gone never attaches to another contact's attempt.
    """
    if to is not None:
        phone = session.scalar(
            select(Contact.phone)
            .join(Attempt, Attempt.contact_id == Contact.id)
            .where(Attempt.id == attempt_id)
        )
        if not of_callee(phone, to, call_sid, attempt_id):
            return False
    session.execute(
        update(Attempt).where(Attempt.id == attempt_id, Attempt.call_sid.is_(None)).values(call_sid=call_sid)
    )
    return session.scalar(select(Attempt.call_sid).where(Attempt.id == attempt_id)) == call_sid


def attempt_for(session: Session, call_sid: str, hint: str | None, to: str | None) -> int | None:
    """The attempt of a call: by its CallSid, else by the attempt id in the callback URL (then linked)."""
    found = session.scalar(select(Attempt.id).where(Attempt.call_sid == call_sid))
    number = whole(hint, most=BIGINT_MAX) if found is None else None
    if number is not None:
        found = number if link(session, number, call_sid, to or "") else None
    return found


def lock_for(session: Session, call_sid: str, hint: str | None) -> None:
    """Lock the attempts a status callback may move (by CallSid, and the hint's) before its call's row, in
    the order `placed_status` takes them, so the two paths never wait for each other in a cycle
    (PostgreSQL; SQLite has no row locks)."""
    number = whole(hint, most=BIGINT_MAX)
    named = (
        Attempt.call_sid == call_sid
        if number is None
        else or_(Attempt.call_sid == call_sid, Attempt.id == number)
    )
    session.execute(select(Attempt.id).where(named).order_by(Attempt.id).with_for_update()).all()


def known_sids(session: Session, phone: str) -> set[str]:
    """The CallSids already on attempts to this number (any campaign): never adopted again."""
    found = session.scalars(
        select(Attempt.call_sid)
        .join(Contact, Contact.id == Attempt.contact_id)
        .where(Contact.phone == phone, Attempt.call_sid.is_not(None))
    )
    return {sid for sid in found if sid is not None}


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
    attempt_id = attempt_for(session, params["CallSid"], hint, params.get("To"))
    if attempt_id is None:
        return
    apply(
        session, attempt_id, params.get("CallStatus", ""), params.get("AnsweredBy"), now,
        int_param(params.get("CallDuration")),
    )  # fmt: skip


def apply(
    session: Session,
    attempt_id: int,
    status: str,
    answered_by: str | None,
    now: datetime,
    duration: int | None = None,
) -> bool:
    """A call's status (from a callback, or read from Twilio by recovery) applied to its attempt."""
    note_answered_by(session, attempt_id, answered_by)
    return advance(session, attempt_id, status, now, duration)


def settle(session: Session, attempt_id: int, now: datetime) -> None:
    """After an attempt's final status: the contact is done, due again after spacing, or failed."""
    attempt = session.get_one(Attempt, attempt_id, populate_existing=True)
    contact = session.get_one(Contact, attempt.contact_id, populate_existing=True)
    campaign = session.get_one(Campaign, attempt.campaign_id, populate_existing=True)
    after = fate(attempt.status, attempt.answered_by, campaign, contact.attempts, now)
    state = "cancelled" if campaign.state == "cancelled" and after.state == "pending" else after.state
    session.execute(
        update(Contact)
        .where(Contact.id == contact.id, Contact.state == "dialling")
        .values(
            state=state, next_attempt_at=after.next_attempt_at, last_outcome=after.outcome, last_error=None
        )
    )
    finish_if_done(session, campaign.id, now)


CAMPAIGNS = cast(Table, Campaign.__table__)
CONTACTS = cast(Table, Contact.__table__)
_OPEN_LEFT = (
    select(CONTACTS.c.id)
    .where(CONTACTS.c.campaign_id == bindparam("campaign_id"), CONTACTS.c.state.in_(OPEN_STATES))
    .exists()
)
FINISH = (
    update(CAMPAIGNS)
    .where(
        CAMPAIGNS.c.id == bindparam("campaign_id"),
        CAMPAIGNS.c.state.in_(("running", "paused")),
        ~_OPEN_LEFT,
    )
    .values(state="finished", updated_at=bindparam("now", type_=CAMPAIGNS.c.updated_at.type))
    .returning(CAMPAIGNS.c.id)
)


def finish_if_done(session: Session | Connection | Executor, campaign_id: int, now: datetime) -> bool:
    """Mark a running or paused campaign finished when none of its contacts is pending or being dialled.

    Every change that can leave a campaign without contacts to call ends here (an attempt settled,
    refused or undone, a claim, a pause or resume), so reading a campaign never needs to finish it.
    """
    return session.execute(FINISH, {"campaign_id": campaign_id, "now": now}).first() is not None


@dataclass(frozen=True)
class Mark:
    """What `mark` decided: 'ok', 'stopped', 'blocked', 'closed' (calling window) or 'gone'.

    `due` is the window's next opening ('closed'); `kept` is True when the attempt was not undone because
    an earlier request for it (answered 5xx) may have placed a call: the worker asks Twilio first.
    """

    verdict: str
    due: datetime | None = None
    kept: bool = False


def mark_requested(session: Session, attempt_id: int, slot: datetime) -> str:
    """Just before the REST request at `slot`: 'ok' (requested_at set), else why it is not sent (see mark)."""
    return mark(session, attempt_id, slot).verdict


def mark(session: Session, attempt_id: int, slot: datetime) -> Mark:
    """Just before the REST request at `slot`: set requested_at, or undo the attempt (see Mark).

    The campaign must still be running, the number still not on the do-not-call list and the calling
    window still open at the slot: a number added, a campaign paused or a window closed after the contact
    was claimed is not called. requested_at keeps the time of the first request of the attempt.
    """
    row = session.execute(
        select(Campaign, Contact.phone, Contact.timezone, Attempt.requested_at)
        .join(Contact, Contact.campaign_id == Campaign.id)
        .join(Attempt, Attempt.contact_id == Contact.id)
        .where(Attempt.id == attempt_id)
    ).first()
    if row is None:
        return Mark("gone")
    campaign, phone, zone, requested_at = row
    kept = requested_at is not None
    if campaign.state != "running":
        revert(session, attempt_id, slot, reason=f"campaign {campaign.state}")
        return Mark("stopped", kept=kept)
    if dnc.is_blocked(session, phone):
        revert(session, attempt_id, slot, skipped=True, reason="on the do-not-call list")
        return Mark("blocked", kept=kept)
    opens = window.next_call_time(
        slot,
        phone=phone,
        timezone=zone,
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        default_timezone=campaign.default_timezone,
    )
    if opens is None or opens > slot:
        revert(session, attempt_id, slot, due=opens, outcome=WINDOW, reason="the calling window closed")
        return Mark("closed", due=opens, kept=kept)
    moved = changed(
        session,
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.call_sid.is_(None), Attempt.status == "pending")
        .values(requested_at=func.coalesce(Attempt.requested_at, slot)),
    )
    return Mark("ok" if moved == 1 else "gone")


def store_sid(session: Session, attempt_id: int, call_sid: str) -> None:
    """Twilio took the call: keep its CallSid; the attempt is queued unless callbacks moved it on."""
    if not link(session, attempt_id, call_sid):
        log.error("attempt %s: Twilio answered CallSid %s but the attempt has another", attempt_id, call_sid)
        return
    session.execute(
        update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "pending").values(status="queued")
    )


def reject(session: Session, attempt_id: int, code: int, message: str, now: datetime) -> None:
    """Twilio refused the call (4xx): the attempt failed with its code and message, and so did the contact."""
    failed = changed(
        session,
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status.in_(ACTIVE))
        .values(status="failed", error_code=code, error_message=message[:2000], ended_at=now),
    )
    if failed != 1:
        return
    attempt = session.get_one(Attempt, attempt_id, populate_existing=True)
    state = "failed"
    session.execute(
        update(Contact)
        .where(Contact.id == attempt.contact_id, Contact.state == "dialling")
        .values(state=state, last_outcome="error", last_error=f"{code}: {message}"[:2000])
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
    due: datetime | None = None,
    outcome: str | None = None,
    sent: bool = False,
) -> bool:
    """Undo an attempt Twilio never placed: delete it; the contact is due again (or skipped, or cancelled).

    Only an attempt without CallSid can be undone, and without requested_at unless `sent` (the caller
    asked Twilio's call list and found no call); False when there is none (placed, sent, or undone).
    The contact is due after `delay` seconds or at `due` (with last_outcome `outcome`), else now.
    """
    where = [Attempt.id == attempt_id, Attempt.call_sid.is_(None)]
    if not sent:
        where.append(Attempt.requested_at.is_(None))
    attempt = session.execute(select(Attempt.contact_id, Attempt.campaign_id).where(*where)).first()
    if attempt is None:
        return False
    if changed(session, delete(Attempt).where(*where)) != 1:
        return False
    campaign_state = session.scalar(select(Campaign.state).where(Campaign.id == attempt.campaign_id))
    values: dict[str, object] = {"attempts": Contact.attempts - 1}
    if skipped:
        values |= {"state": "skipped", "last_outcome": "do-not-call"}
    elif campaign_state == "cancelled":
        values |= {"state": "cancelled"}
    elif due is None and outcome == WINDOW:  # its zones never share an opening of the window
        values |= {"state": "failed", "last_outcome": WINDOW}
        values["last_error"] = "its time zones never share an opening of the calling window"
    else:
        when = now + timedelta(seconds=delay) if delay else due
        values |= {"state": "pending", "next_attempt_at": when}
        if outcome is not None:
            values["last_outcome"] = outcome
    if error is not None:
        values["last_error"] = error[:2000]
    session.execute(
        update(Contact).where(Contact.id == attempt.contact_id, Contact.state == "dialling").values(values)
    )
    log.info("attempt %s not placed (%s): contact %s is due again", attempt_id, reason, attempt.contact_id)
    if skipped or campaign_state == "cancelled" or values.get("state") == "failed":
        finish_if_done(session, attempt.campaign_id, now)
    return True


def adopt(session: Session, attempt_id: int, found: PlacedCall, now: datetime) -> None:
    """Twilio's call list has the attempt's call: link it and take over its status."""
    store_sid(session, attempt_id, found.sid)
    apply(session, attempt_id, found.status, found.answered_by, now, found.duration)
