"""Recovery: attempts left without a CallSid by a dead worker, and attempts whose final callback was lost.
Orphans and stale attempts: docs/dialer.md, "Crash safety" and "Inside the worker"."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..campaigns.attempts import adopt, apply, known_sids, revert
from ..campaigns.lifecycle import ACTIVE, FINAL
from ..models import Attempt, Campaign, Contact
from .lease import Leases
from .rest import TwilioRest

log = logging.getLogger(__name__)
LIMIT = 500  # orphans (and stale attempts) looked at per round
STALE_SECONDS = 60.0 + 4 * 3600.0  # Twilio's default dial timeout plus its longest call


@dataclass
class Recovered:
    """What a recovery round did."""

    reverted: int = 0
    adopted: int = 0
    waiting: int = 0
    settled: int = 0


def orphans(session: Session) -> list[int]:
    """Attempts without CallSid that no callback has moved on (in flight, or orphaned)."""
    found = session.scalars(
        select(Attempt.id)
        .where(Attempt.call_sid.is_(None), Attempt.status == "pending")
        .order_by(Attempt.id)
        .limit(LIMIT)
    )
    return list(found)


def stale(session: Session, now: datetime, seconds: float) -> list[tuple[int, str]]:
    """Attempts with a CallSid still not final `seconds` after they were requested: (id, CallSid)."""
    since = func.coalesce(Attempt.requested_at, Attempt.created_at)
    found = session.execute(
        select(Attempt.id, Attempt.call_sid)
        .where(
            Attempt.call_sid.is_not(None),
            Attempt.status.in_(ACTIVE),
            since < now - timedelta(seconds=seconds),
        )
        .order_by(Attempt.id)
        .limit(LIMIT)
    ).tuples()
    return [(attempt_id, sid) for attempt_id, sid in found if sid is not None]


def _settle_one(
    session: Session, attempt_id: int, sid: str, rest: TwilioRest, now: datetime, done: Recovered
) -> None:
    call = rest.fetch(sid)
    if call.status not in FINAL:
        return  # still going at Twilio: its callbacks may yet come
    log.warning("attempt %s: call %s is %s at Twilio; settling it", attempt_id, sid, call.status)
    if apply(session, attempt_id, call.status, call.answered_by, now, call.duration):
        done.settled += 1


def _recover_one(
    session: Session, attempt_id: int, rest: TwilioRest, now: datetime, grace: float, done: Recovered
) -> None:
    row = session.execute(
        select(Attempt.requested_at, Contact.phone, Campaign.caller_id)
        .join(Contact, Contact.id == Attempt.contact_id)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.id == attempt_id, Attempt.call_sid.is_(None), Attempt.status == "pending")
    ).first()
    if row is None:
        return
    if row.requested_at is None:
        if revert(session, attempt_id, now, reason="its worker stopped before sending it"):
            done.reverted += 1
        return
    if row.requested_at > now - timedelta(seconds=grace):
        done.waiting += 1
        return
    found = rest.find(row.phone, row.caller_id, row.requested_at, known_sids(session, row.phone))
    if found is not None:
        log.warning("attempt %s: adopting call %s that Twilio has (%s)", attempt_id, found.sid, found.status)
        adopt(session, attempt_id, found, now)
        done.adopted += 1
    elif revert(
        session,
        attempt_id,
        now,
        reason="its worker stopped while sending it; Twilio has no such call",
        sent=True,
    ):
        done.reverted += 1


def recover(
    maker: sessionmaker[Session],
    leases: Leases,
    rest: TwilioRest,
    now: datetime,
    grace: float,
    stale_seconds: float = STALE_SECONDS,
) -> Recovered:
    """One round: every orphan whose lease can be taken is reverted, adopted, or left to wait; every stale
    attempt whose call Twilio has ended is settled."""
    done = Recovered()
    with maker() as session:
        candidates = orphans(session)
        late = stale(session, now, stale_seconds)
    for attempt_id in candidates:
        if not leases.hold(attempt_id):
            continue  # in flight here or in a live worker
        try:
            with maker() as session:
                _recover_one(session, attempt_id, rest, now, grace, done)
                session.commit()
        except Exception:
            log.exception("attempt %s: recovery failed; it is tried again next round", attempt_id)
        finally:
            leases.release(attempt_id)
    for attempt_id, sid in late:
        if not leases.hold(attempt_id):
            continue
        try:
            with maker() as session:
                _settle_one(session, attempt_id, sid, rest, now, done)
                session.commit()
        except Exception:
            log.exception("attempt %s: could not read call %s; tried again next round", attempt_id, sid)
        finally:
            leases.release(attempt_id)
    if done.reverted or done.adopted or done.settled:
        log.warning(
            "recovery: %s attempt(s) due again, %s adopted, %s settled",
            done.reverted,
            done.adopted,
            done.settled,
        )
    return done
