"""The do-not-call list: numbers no campaign may dial, checked at dial time; E.164, sources manual, import,
opt-out; each removal kept on record (who, when, why) (docs/campaigns.md). Never commits."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO, cast

from sqlalchemy import Table, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from ..db import UTCDateTime
from ..models import DncRemoval, DoNotCall
from .csvfile import records
from .phone import PhoneError, to_e164

SOURCES = ("manual", "import", "opt-out")
OPT_OUT = "opt-out"  # a callee's own request during a call: only an admin may take it off (with a reason)
NOTE_LENGTH = 200
REASON_LENGTH = 500
CHUNK = 1000
DNC = cast(Table, DoNotCall.__table__)
NUMBERS = {  # a chunk of numbers as one parameter: an array on PostgreSQL, a JSON array on SQLite
    "postgresql": "unnest(CAST(:phones AS text[])) AS chunk(phone)",
    # "WHERE true": SQLite would read ON CONFLICT as a join's ON otherwise
    "sqlite": "(SELECT value AS phone FROM json_each(:phones)) WHERE true",
}
ADD = {
    dialect: text(
        "INSERT INTO do_not_call (phone, source, note, added_at) "
        f"SELECT phone, :source, :note, :added_at FROM {numbers} ON CONFLICT DO NOTHING"
    ).bindparams(bindparam("added_at", type_=UTCDateTime()))
    for dialect, numbers in NUMBERS.items()
}


def is_blocked(session: Session, phone: str) -> bool:
    """Whether `phone` (E.164) is on the do-not-call list: the dialer asks just before each call."""
    return session.execute(select(DNC.c.phone).where(DNC.c.phone == phone)).first() is not None


def blocked_among(session: Session, phones: Collection[str]) -> set[str]:
    """The numbers of `phones` (E.164) that are on the list."""
    found: set[str] = set()
    listed = list(phones)
    for index in range(0, len(listed), CHUNK):
        chunk = listed[index : index + CHUNK]
        found.update(session.scalars(select(DNC.c.phone).where(DNC.c.phone.in_(chunk))))
    return found


def block_many(
    session: Session, phones: Collection[str], source: str = "manual", note: str = "", *, now: datetime
) -> int:
    """Put E.164 numbers on the list, added `now` (one statement per chunk); how many were not on it yet."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r} (one of {', '.join(SOURCES)})")
    numbers = list(dict.fromkeys(phones))
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    statement = ADD[connection.dialect.name]
    added = 0
    for index in range(0, len(numbers), CHUNK):
        chunk = numbers[index : index + CHUNK]
        values = {"source": source, "note": note[:NOTE_LENGTH], "added_at": now}
        values["phones"] = chunk if postgresql else json.dumps(chunk)
        added += connection.execute(statement, values).rowcount  # the rows inserted, not those skipped
    return added


def block(session: Session, phone: str, source: str = "manual", note: str = "", *, now: datetime) -> bool:
    """Put one number on the list (E.164, checked); False when it was on it already (its row is kept)."""
    if to_e164(phone) != phone:
        raise PhoneError(f"{phone!r} is not written in E.164 (+15125550100)")
    return block_many(session, [phone], source, note, now=now) == 1


class OptOutProtected(Exception):
    """The entry is a callee's own opt-out and the remover may not take those off."""


def check_reason(reason: object) -> str:
    """The reason for a removal, stripped; ValueError when missing, not text or too long."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a reason is required to take a number off the do-not-call list")
    reason = reason.strip()
    if len(reason) > REASON_LENGTH:
        raise ValueError(f"the reason is too long ({len(reason)} characters, at most {REASON_LENGTH})")
    return reason


def unblock(
    session: Session, phone: str, *, by: str, reason: str, now: datetime, opt_outs: bool = False
) -> DncRemoval | None:
    """Take a number off the list and record the removal (who, when, why, the entry as it was).

    None when it was not on the list; OptOutProtected when it is an opt-out and `opt_outs` is False.
    The reason is checked (check_reason). The delete names the source it read, so an entry is never taken off
    on the strength of a check made against another row.
    """
    reason = check_reason(reason)
    entry = session.execute(select(DNC).where(DNC.c.phone == phone)).first()
    if entry is None:
        return None
    if entry.source == OPT_OUT and not opt_outs:
        raise OptOutProtected(f"{phone} opted out during a call: only an admin may remove it, with a reason")
    deleted = session.execute(
        delete(DNC)
        .where(DNC.c.phone == phone, DNC.c.source == entry.source)
        .returning(DNC.c.source, DNC.c.note, DNC.c.added_at)
    ).first()
    if deleted is None:  # removed (or replaced) by someone else meanwhile
        return None
    removal = DncRemoval(
        phone=phone,
        source=deleted.source,
        note=deleted.note,
        added_at=deleted.added_at,
        removed_at=now,
        removed_by=by,
        reason=reason,
    )
    session.add(removal)
    session.flush()
    return removal


def removals(
    session: Session, phone: str | None = None, limit: int | None = None, offset: int = 0
) -> tuple[list[DncRemoval], int]:
    """Removals, newest first (optionally of one number), and how many there are in all."""
    query = select(DncRemoval)
    counted = select(func.count()).select_from(DncRemoval)
    if phone is not None:
        query = query.where(DncRemoval.phone == phone)
        counted = counted.where(DncRemoval.phone == phone)
    query = query.order_by(DncRemoval.removed_at.desc(), DncRemoval.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(query)), int(session.scalar(counted) or 0)


def last_removal(session: Session, phone: str) -> DncRemoval | None:
    """The newest removal of a number, if it was ever removed."""
    found, _total = removals(session, phone, 1)
    return found[0] if found else None


def removal_dict(removal: DncRemoval) -> dict[str, Any]:
    """One removal as JSON: the entry as it was, and who removed it, when and why."""
    return {
        "id": removal.id,
        "phone": removal.phone,
        "source": removal.source,
        "note": removal.note,
        "added_at": removal.added_at.isoformat(),
        "removed_at": removal.removed_at.isoformat(),
        "removed_by": removal.removed_by,
        "reason": removal.reason,
    }


def listed(
    session: Session, source: str | None = None, limit: int | None = None, offset: int = 0
) -> tuple[list[DoNotCall], int]:
    """Entries, newest first (optionally of one source), and how many there are in all."""
    query = select(DoNotCall)
    counted = select(func.count()).select_from(DoNotCall)
    if source is not None:
        query = query.where(DoNotCall.source == source)
        counted = counted.where(DoNotCall.source == source)
    query = query.order_by(DoNotCall.added_at.desc(), DoNotCall.phone).offset(offset).limit(limit)
    return list(session.scalars(query)), int(session.scalar(counted) or 0)


def entry_dict(entry: DoNotCall) -> dict[str, Any]:
    """One entry as JSON."""
    return {
        "phone": entry.phone,
        "source": entry.source,
        "note": entry.note,
        "added_at": entry.added_at.isoformat(),
    }


@dataclass
class ListImport:
    """What a do-not-call import did: numbers added, already listed, and bad lines with their reason."""

    added: int = 0
    already: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "added": self.added,
            "already_listed": self.already,
            "invalid": [{"line": line, "reason": reason} for line, reason in self.problems],
        }


def _numbers(stream: TextIO) -> Iterator[tuple[int, str, str]]:
    """(line, raw number, "") from a CSV whose `phone` column (any case) holds them, or from its first
    column; (line, "", why) for a line the CSV reader refuses (csvfile.records)."""
    column = 0
    for record in records(stream):
        row = record.fields
        if record.problem:
            yield record.line, "", record.problem
            continue
        if not row or not "".join(row).strip():
            continue
        if record.line == 1:
            names = [name.strip().lower() for name in row]
            if "phone" in names:
                column = names.index("phone")
                continue
        yield record.line, row[column] if column < len(row) else "", ""


def import_list(
    session: Session,
    stream: TextIO,
    region: str | None,
    source: str = "import",
    note: str = "",
    *,
    now: datetime,
) -> ListImport:
    """Add every number of a file (one a line, or a CSV with a `phone` column), streamed in chunks."""
    report = ListImport()
    chunk: dict[str, int] = {}

    def flush() -> None:
        added = block_many(session, list(chunk), source, note, now=now)
        report.added += added
        report.already += len(chunk) - added
        chunk.clear()

    for line, raw, unreadable in _numbers(stream):
        if unreadable:
            report.problems.append((line, unreadable))
            continue
        if "\x00" in raw:
            report.problems.append((line, "contains a NUL character"))
            continue
        try:
            phone = to_e164(raw, region)
        except PhoneError as exc:
            report.problems.append((line, str(exc)))
            continue
        if phone in chunk:
            report.already += 1
            continue
        chunk[phone] = line
        if len(chunk) >= CHUNK:
            flush()
    flush()
    return report


UNLISTABLE = "not a number that can be listed (withheld?)"


@dataclass(frozen=True)
class OptOut:
    """What opting a call's other party out writes: its entry (None: no number that can be listed), and the
    data of the call's timeline when the entry went in and when it did not."""

    entry: dict[str, Any] | None
    added: dict[str, Any]
    skipped: dict[str, Any]


def opt_out(call: Mapping[str, Any], now: datetime) -> OptOut:
    """The opt-out of a call (its row's call_sid, direction, from_number and to_number), added `now`: the
    other party, To if the call is outbound, else From, in E.164."""
    raw = call["to_number"] if call["direction"].startswith("outbound") else call["from_number"]
    try:
        number = to_e164(raw)
    except PhoneError:
        return OptOut(None, {}, {"number": raw, "added": False, "reason": UNLISTABLE})
    note = f"opted out during call {call['call_sid']}"[:NOTE_LENGTH]
    entry = {"phone": number, "source": OPT_OUT, "note": note, "added_at": now}
    skipped = {"number": number, "added": False, "reason": "already on the list"}
    return OptOut(entry, {"number": number, "added": True}, skipped)
