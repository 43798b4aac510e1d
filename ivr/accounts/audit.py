"""The append-only audit log: who did what, when and from where. Nothing here changes or removes an entry
(the database refuses updates too: migration 0009). Read newest first (the page) or after an id (the API)."""

from __future__ import annotations

import getpass
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ..models import AuditEntry

# Every action written (docs/accounts.md, "Audit log"); a family ("campaign") filters all of its actions.
ACTIONS = (
    "flows.publish", "flows.rollback",
    "campaign.create", "campaign.import", "campaign.start", "campaign.pause", "campaign.resume",
    "campaign.cancel",
    "dnc.add", "dnc.remove", "dnc.import",
    "user.create", "user.passwd", "user.disable", "user.enable", "user.role",
    "token.create", "token.revoke",
    "user.lock", "user.unlock",  # sign-in locks (accounts.signins)
)  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who acts: a username, "token:<name>" or "cli:<os user>", and the address they came from."""

    name: str
    address: str = ""


def cli_actor() -> Actor:
    """The person at the command line: "cli:<os user>", from the address "cli"."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        who = "unknown"
    return Actor(f"cli:{who}", "cli")


def record(s: Session, actor: Actor, action: str, target: str, now: datetime, **details: Any) -> AuditEntry:
    """Add one entry to the session (the caller's unit of work commits it with the change it records)."""
    entry = AuditEntry(
        at=now, actor=actor.name, address=actor.address, action=action, target=target, details=details
    )
    s.add(entry)
    return entry


def numbers_target(phones: Sequence[str]) -> str:
    """An entry's target for phone numbers: the number itself, or how many (the details list them)."""
    return phones[0] if len(phones) == 1 else f"{len(phones)} numbers"


def report_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of an import's report (its per-row lists left out), for an entry's details."""
    return {key: value for key, value in report.items() if not isinstance(value, list | dict)}


def _filtered(query: Select[Any], action: str | None, actor: str | None) -> Select[Any]:
    """Only entries of `action` (or of its family: "campaign" is every campaign.* action) and of `actor`."""
    if action:
        query = query.where(
            or_(AuditEntry.action == action, AuditEntry.action.startswith(action + ".", autoescape=True))
        )
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return query


def count_entries(s: Session, action: str | None = None, actor: str | None = None) -> int:
    """How many entries match."""
    return s.scalar(_filtered(select(func.count(AuditEntry.id)), action, actor)) or 0


def newest_entries(
    s: Session, action: str | None = None, actor: str | None = None, limit: int = 50, offset: int = 0
) -> list[AuditEntry]:
    """A page of the matching entries, newest first."""
    query = _filtered(select(AuditEntry), action, actor).order_by(AuditEntry.id.desc())
    return list(s.scalars(query.limit(limit).offset(offset)))


def entries_after(
    s: Session, after_id: int = 0, action: str | None = None, actor: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The matching entries written after entry `after_id`, oldest first (how a copy keeps up)."""
    query = _filtered(select(AuditEntry), action, actor).where(AuditEntry.id > after_id)
    return list(s.scalars(query.order_by(AuditEntry.id).limit(limit)))


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON (the API's AuditEntry)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat().replace("+00:00", "Z"),
        "actor": entry.actor,
        "address": entry.address,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
    }
