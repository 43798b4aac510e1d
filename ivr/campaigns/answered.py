"""What the answered call's webhook (`/voice/outbound/<attempt>`) reads of its attempt, contact and
campaign, and the guard that links the attempt in the step's own write (docs/dialer.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, update
from sqlalchemy.engine import Connection

from ..calls import driver, steps
from ..db import embeddable
from ..models import Attempt, Campaign, Contact
from .attempts import of_callee, with_contact_and_campaign

ATTEMPTS = cast(Table, Attempt.__table__)


@dataclass(frozen=True)
class Callee:
    """The contact a campaign's call reached."""

    contact_id: int
    phone: str
    name: str
    variables: dict[str, Any]


@dataclass(frozen=True)
class CampaignCall:
    """What the answer to a campaign's call needs of its campaign."""

    name: str
    flow: str
    caller_id: str
    desk: str | None
    machine_detection: str
    machine_message: str | None


@dataclass(frozen=True)
class Placed:
    """An attempt as read: its CallSid (None: not linked yet), its contact and its campaign."""

    attempt_id: int
    call_sid: str | None
    callee: Callee
    campaign: CampaignCall


READ = with_contact_and_campaign(
    Attempt.call_sid, Contact.id, Contact.phone, Contact.name, Contact.variables, Campaign.name,
    Campaign.flow, Campaign.caller_id, Campaign.desk, Campaign.machine_detection, Campaign.machine_message,
).where(Attempt.id == bindparam("attempt_id"))  # fmt: skip

# The attempt gets the CallSid unless it has another; AnsweredBy is kept once (attempts.link and
# note_answered_by). On SQLite a statement of its own; on PostgreSQL, compiled once, the write's `gate` CTE.
_MINE = or_(ATTEMPTS.c.call_sid.is_(None), ATTEMPTS.c.call_sid == bindparam("link_sid"))
LINK = (
    update(ATTEMPTS)
    .where(ATTEMPTS.c.id == bindparam("link_attempt"), _MINE)
    .values(
        call_sid=bindparam("link_sid"),
        answered_by=func.coalesce(ATTEMPTS.c.answered_by, bindparam("link_answered_by")),
    )
    .returning(ATTEMPTS.c.id)
)
LINK_CTE = f"gate AS ({embeddable(LINK)[0]})"


def read(connection: Connection | driver.Runner, attempt_id: int) -> Placed | None:
    """The attempt with its contact and campaign, if there is one."""
    row = connection.execute(READ, {"attempt_id": attempt_id}).first()
    connection.commit()  # SQLite: no transaction left open before the write's own
    if row is None:
        return None
    return Placed(attempt_id, row[0], Callee(*row[1:5]), CampaignCall(*row[5:]))


def callee_of(placed: Placed, call_sid: str, to: str) -> bool:
    """Whether the call is the attempt's: the number called is the contact's and the attempt has no other
    CallSid (a late request of an undone attempt's call never reaches another contact's)."""
    free = placed.call_sid in (None, call_sid)
    return of_callee(placed.callee.phone, to, call_sid, placed.attempt_id) and free


def link(attempt_id: int, call_sid: str, answered_by: str | None) -> steps.Guard:
    """The guard of the answer's write: the attempt linked to the call, AnsweredBy kept once."""
    params = {
        "link_attempt": attempt_id,
        "link_sid": call_sid,
        "link_answered_by": answered_by[:32] if answered_by else None,
    }
    return steps.Guard(LINK_CTE, LINK, params)
