"""The append-only audit log: who did what, when and from where. Nothing here changes or removes an entry
(the database refuses updates too: migration 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: a username, "token:<name>" or "cli:<os user>", and the address they came from."""

    name: str
    address: str = ""


def record(s: Session, actor: Actor, action: str, target: str, now: datetime, **details: Any) -> AuditEntry:
    """Add one entry to the session (the caller's unit of work commits it with the change it records)."""
    entry = AuditEntry(
        at=now, actor=actor.name, address=actor.address, action=action, target=target, details=details
    )
    s.add(entry)
    return entry
