"""Claiming due contacts of a running campaign, in a small batch, as attempts to dial.
The campaign row is locked for the claim; contacts are taken with FOR UPDATE SKIP LOCKED (docs/dialer.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..campaigns import dnc, window
from ..models import Attempt, Campaign, Contact
from .rest import AMD


@dataclass
class Job:
    """One attempt to place: what the REST request needs, and how many times it was tried."""

    attempt_id: int
    campaign_id: int
    phone: str
    caller_id: str
    machine_detection: str | None
    campaign_cps: float
    tries: int = 0  # REST requests Twilio refused with 429 or 5xx
    late: int = 0  # slots missed
    not_before: datetime | None = None
    sent: datetime | None = None  # requested_at: a request went out (Twilio may have the call)
    uncertain: datetime | None = None  # when a request answered 5xx went out: its call is looked for
    error: str = ""  # that 5xx
    looks: int = 0  # Twilio's call list asked since then


@dataclass
class Claimed:
    """What a claim did: the jobs to dial, and the contacts skipped, deferred or failed on the way."""

    jobs: list[Job] = field(default_factory=list)
    skipped: int = 0
    deferred: int = 0
    failed: int = 0


def dialling(session: Session, campaign_id: int) -> int:
    """How many contacts of the campaign are being dialled now (attempt committed, not final yet)."""
    counted = select(func.count()).where(Contact.campaign_id == campaign_id, Contact.state == "dialling")
    return int(session.scalar(counted) or 0)


def claim(session: Session, campaign_id: int, now: datetime, limit: int, batch: int) -> Claimed:
    """Take up to `limit` due contacts (looking at `batch` at most) and give each an attempt (flushed).

    Contacts on the do-not-call list are skipped; contacts outside their calling window get their next
    opening as next_attempt_at (last_outcome 'deferred-window'); a contact whose zones never share an
    opening of the window fails. The caller commits (after taking the attempts' leases).
    """
    claimed = Claimed()
    campaign = session.scalars(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.state == "running").with_for_update()
    ).first()
    if campaign is None:
        return claimed
    free = min(limit, campaign.max_concurrent - dialling(session, campaign_id))
    if free <= 0:
        return claimed
    due = session.scalars(
        select(Contact)
        .where(
            Contact.campaign_id == campaign_id,
            Contact.state == "pending",
            or_(Contact.next_attempt_at.is_(None), Contact.next_attempt_at <= now),
        )
        .order_by(Contact.next_attempt_at.asc().nulls_first(), Contact.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    blocked = dnc.blocked_among(session, [contact.phone for contact in due])
    attempts: list[tuple[Attempt, Contact]] = []
    for contact in due:
        if len(attempts) >= free:
            break
        if contact.phone in blocked:
            contact.state, contact.last_outcome = "skipped", "do-not-call"
            claimed.skipped += 1
            continue
        opens = window.next_call_time(
            now,
            phone=contact.phone,
            timezone=contact.timezone,
            window_start=campaign.window_start,
            window_end=campaign.window_end,
            default_timezone=campaign.default_timezone,
        )
        if opens is None:
            contact.state, contact.last_outcome = "failed", "deferred-window"
            contact.last_error = "its time zones never share an opening of the calling window"
            claimed.failed += 1
            continue
        if opens > now:
            contact.next_attempt_at, contact.last_outcome = opens, "deferred-window"
            claimed.deferred += 1
            continue
        contact.state = "dialling"
        contact.attempts += 1
        attempt = Attempt(
            campaign_id=campaign_id,
            contact_id=contact.id,
            number=contact.attempts,
            created_at=now,
            status="pending",
        )
        session.add(attempt)
        attempts.append((attempt, contact))
    session.flush()
    detection = AMD.get(campaign.machine_detection)
    for attempt, contact in attempts:
        claimed.jobs.append(
            Job(attempt.id, campaign_id, contact.phone, campaign.caller_id, detection, campaign.max_cps)
        )
    return claimed
