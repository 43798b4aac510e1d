"""Small helpers for reading the call log in tests."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.models import Call, CallEvent


def call_row(session: Session, sid: str) -> Call:
    """The call row, read fresh."""
    session.expire_all()
    return session.scalars(select(Call).where(Call.call_sid == sid)).one()


def event_kinds(session: Session, sid: str) -> list[str]:
    """The kinds of a call's events, in order."""
    call = call_row(session, sid)
    return list(
        session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
    )


def events(session: Session, sid: str, kind: str) -> list[CallEvent]:
    """A call's events of one kind, in order."""
    call = call_row(session, sid)
    query = (
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == kind).order_by(CallEvent.id)
    )
    return list(session.scalars(query))


def sample_segment(flows_dir: Path, route: str, path: str) -> str:
    """The segment of a call the sample's route node `route` routed after the menu choices `path`: the
    node's label if the sample flow gives it one, else the path."""
    nodes = json.loads((flows_dir / "main.json").read_text("utf-8"))["nodes"]
    return str(nodes[route].get("segment", path))
