"""Contact import: a CSV stream into a campaign's contacts in chunks, merging duplicates, reporting each row.
Streamed, imports into one campaign taking turns, never committing itself (docs/campaigns.md)."""

from __future__ import annotations

import fcntl
import heapq
import json
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TextIO, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from ..db import UTCDateTime
from ..engine.site import BUILTIN_VARIABLES
from ..models import Campaign, Contact
from .csvfile import ContactReader, FileError, Invalid, Row
from .dnc import blocked_among
from .phone import region_of
from .window import CallingWindow

CHUNK = 1000
GIVEN = frozenset({"name", *BUILTIN_VARIABLES})  # every call of a campaign has these (the name may be "")
CLOSED_STATES = ("finished", "cancelled")
CONTACTS = cast(Table, Contact.__table__)
RETURNED = tuple(CONTACTS.c[name] for name in ("id", "phone", "line", "name", "timezone", "variables"))
UPSERT_JSON = (  # SQLite: the chunk as one JSON array of [phone, name, timezone, variables, line]
    text(
        """
    INSERT INTO contacts (campaign_id, phone, name, timezone, variables, line, state, attempts, created_at)
    SELECT :campaign_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
           json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
           'pending', 0, :now
    FROM json_each(:rows) WHERE true
    ON CONFLICT (campaign_id, phone) DO UPDATE SET phone = excluded.phone
    RETURNING id, phone, line, name, timezone, variables
    """
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(*RETURNED)
)  # "WHERE true": SQLite would read ON CONFLICT as a join's ON otherwise
UPSERT_ARRAYS = text(
    """
    INSERT INTO contacts (campaign_id, phone, name, timezone, variables, line, state, attempts, created_at)
    SELECT :campaign_id, phone, name, timezone, CAST(variables AS jsonb), line, 'pending', 0, :now
    FROM unnest(CAST(:phones AS text[]), CAST(:names AS text[]), CAST(:zones AS text[]),
                CAST(:variables AS text[]), CAST(:lines AS integer[]))
         AS chunk(phone, name, timezone, variables, line)
    ON CONFLICT (campaign_id, phone) DO UPDATE SET phone = EXCLUDED.phone
    RETURNING id, phone, line, name, timezone, variables
    """
).bindparams(bindparam("now", type_=UTCDateTime()))
IMPORT_LOCK = 0x1C0_0001  # pg_advisory_xact_lock(IMPORT_LOCK, campaign id): one import per campaign at once
MERGE = (
    update(CONTACTS)
    .where(CONTACTS.c.id == bindparam("contact_id"))
    .values(
        name=bindparam("new_name"), timezone=bindparam("new_timezone"), variables=bindparam("new_variables")
    )
)


class ImportRefused(ValueError):
    """The campaign cannot take contacts (it is finished or cancelled)."""


@dataclass(frozen=True, slots=True)
class Merged:
    """A row whose number was already in the file or the campaign."""

    line: int
    phone: str
    into_line: int | None  # the line of the contact it was merged into
    earlier_import: bool  # the contact came from an earlier import, not this file

    def describe(self) -> str:
        """The merge in words."""
        where = "an earlier import" if self.earlier_import else "this file"
        into = (
            f"line {self.into_line} of {where}" if self.into_line is not None else "a contact added by hand"
        )
        return f"line {self.line}: {self.phone} merged into the contact of {into}"


@dataclass
class ImportReport:
    """What an import did: new contacts, merged rows, invalid rows by line, numbers on do-not-call."""

    rows: int = 0  # data rows read (blank lines excluded)
    imported: int = 0
    merged: list[Merged] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    blank_lines: int = 0
    on_do_not_call: int = 0  # imported or merged numbers that are on the list now (skipped at dial time)
    region: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "rows": self.rows,
            "imported": self.imported,
            "merged": len(self.merged),
            "invalid": len(self.invalid),
            "blank_lines": self.blank_lines,
            "on_do_not_call": self.on_do_not_call,
            "region": self.region,
            "invalid_rows": [{"line": i.line, "reason": i.reason, "phone": i.value} for i in self.invalid],
            "merged_rows": [asdict(m) for m in self.merged],
        }

    def lines(self) -> Iterator[str]:
        """The report in words, one line per row not imported as is (in file order), then the totals."""
        invalid = ((i.line, f"line {i.line}: {i.reason}") for i in self.invalid)
        merged = ((m.line, m.describe()) for m in self.merged)
        for _line, words in heapq.merge(invalid, merged):  # both lists are in line order
            yield words
        yield (
            f"{self.rows} rows: {self.imported} imported, {len(self.merged)} merged as duplicates, "
            f"{len(self.invalid)} invalid; {self.on_do_not_call} on the do-not-call list "
            "(skipped when dialled)"
        )


def _fill(kept: str | None, later: str | None) -> str | None:
    return kept if kept else later or kept


def _merge_values(existing: Any, row: Row) -> dict[str, Any] | None:
    """The merged name, zone and variables when `row` adds something to `existing`, else None."""
    variables = dict(existing.variables or {})
    for key, value in row.variables.items():
        if value and not variables.get(key):
            variables[key] = value
    name = _fill(existing.name, row.name) or ""
    zone = _fill(existing.timezone, row.timezone)
    if (name, zone, variables) == (existing.name, existing.timezone, existing.variables or {}):
        return None
    return {"new_name": name, "new_timezone": zone, "new_variables": variables}


class _Writer:
    """Writes one campaign's rows chunk by chunk."""

    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        report: ImportReport,
        now: datetime,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.checkpoint = checkpoint
        self.now = now
        self.campaign = campaign
        self.report = report
        query = select(func.max(CONTACTS.c.id)).where(CONTACTS.c.campaign_id == campaign.id)
        self.last_before = session.scalar(query) or 0  # contacts up to this id were there before
        self.last_written = self.last_before  # and up to this one after the chunks written so far
        self.chunk: dict[str, Row] = {}
        self.repeats: dict[str, list[int]] = {}  # lines of later rows merged into a row of the chunk
        self.postgresql = session.get_bind().dialect.name == "postgresql"

    def add(self, row: Row) -> None:
        """Take a row; a number the chunk has already is merged into the chunk's row."""
        first = self.chunk.get(row.phone)
        if first is None:
            self.chunk[row.phone] = row
            if len(self.chunk) >= CHUNK:
                self.flush()
            return
        self.repeats.setdefault(row.phone, []).append(row.line)
        for key, value in row.variables.items():
            if value and not first.variables.get(key):
                first.variables[key] = value
        first.name = first.name or row.name
        first.timezone = first.timezone or row.timezone

    def write(self, rows: list[Row]) -> Sequence[Any]:
        """INSERT the rows .. ON CONFLICT (campaign_id, phone) DO UPDATE .. RETURNING each row's contact.

        Every row comes back, new or already there (found through the unique index, whatever the
        planner thinks of a table that grows in this transaction). PostgreSQL gets the chunk as one array
        per column, SQLite as one JSON document: one short statement each, compiled once.
        """
        connection = self.session.connection()
        if self.postgresql:
            arrays = {
                "campaign_id": self.campaign.id,
                "now": self.now,
                "phones": [row.phone for row in rows],
                "names": [row.name for row in rows],
                "zones": [row.timezone for row in rows],
                "variables": [json.dumps(row.variables) for row in rows],
                "lines": [row.line for row in rows],
            }
            return connection.execute(UPSERT_ARRAYS, arrays).all()
        chunk = [[row.phone, row.name, row.timezone, row.variables, row.line] for row in rows]
        values = {"campaign_id": self.campaign.id, "now": self.now, "rows": json.dumps(chunk)}
        return connection.execute(UPSERT_JSON, values).all()

    def flush(self) -> None:
        """Write the chunk in one statement: new numbers are inserted, the others merged into their contact.

        A row whose contact id is above the last one written before is new.
        """
        rows, repeats = self.chunk, self.repeats
        self.chunk, self.repeats = {}, {}
        if not rows:
            return
        written = self.write(list(rows.values()))
        kept: dict[str, tuple[int | None, bool]] = {}
        changes, new = [], []
        for found in written:
            row = rows[found.phone]
            if found.id > self.last_written:
                new.append(found.phone)
                kept[found.phone] = (row.line, False)
                continue
            kept[found.phone] = (found.line, found.id <= self.last_before)
            self.report.merged.append(Merged(row.line, row.phone, *kept[found.phone]))
            merged = _merge_values(found, row)
            if merged is not None:
                changes.append({"contact_id": found.id, **merged})
        self.last_written = max([self.last_written, *(found.id for found in written)])
        if changes:
            self.session.connection().execute(MERGE, changes)
        self.report.imported += len(new)
        self.report.on_do_not_call += len(blocked_among(self.session, new))
        for phone, lines in repeats.items():
            into, earlier = kept[phone]
            self.report.merged += [Merged(line, phone, into, earlier) for line in lines]
        if self.checkpoint is not None:
            self.checkpoint()


def take_turn(session: Session, campaign_id: int) -> None:
    """Wait until no other import into this campaign is running (held until the transaction ends).

    PostgreSQL: a transaction-level advisory lock; SQLite: writers take turns anyway (one at a time).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:kind, :id)"), {"kind": IMPORT_LOCK, "id": campaign_id}
        )


@contextmanager
def turn_across_commits(session: Session, campaign_id: int) -> Iterator[None]:
    """Take this campaign's import turn until the block ends, whatever the session commits meanwhile.

    PostgreSQL: the same advisory lock as `take_turn`, held by a connection of its own at session level
    (waiting as long as the other import runs); SQLite: an exclusive lock on a file beside the database.
    """
    engine = session.get_bind().engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            key = {"kind": IMPORT_LOCK, "id": campaign_id}
            holder.execute(text("SET LOCAL lock_timeout = 0"))
            holder.execute(text("SELECT pg_advisory_lock(:kind, :id)"), key)
            holder.commit()  # a session-level lock outlives the transaction
            try:
                yield
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:kind, :id)"), key)
                holder.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.import-{campaign_id}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def import_contacts(
    session: Session,
    campaign: Campaign,
    stream: TextIO,
    now: datetime,
    region: str | None = None,
    progress: Callable[[int], None] | None = None,
    needs: Collection[str] = (),
    checkpoint: Callable[[], None] | None = None,
) -> ImportReport:
    """Import a contact CSV into `campaign`; numbers without +country are read in `region`.

    The default region is the one of the campaign's caller ID (US for +1...). `needs` are the variables
    the campaign's flow declares: the file must have a column for each. Raises ImportRefused for a
    finished or cancelled campaign and csvfile.FileError for a file that cannot be imported at all.
    `progress` is called with the number of rows read, every CHUNK rows.

    Without `checkpoint` the import is one transaction of the caller's. With it (the caller's commit),
    the whole file is read and checked first, its rows kept in a temporary file, so a file that cannot
    be read writes nothing; then the rows are written CHUNK at a time with a checkpoint after each chunk,
    so the import never holds a lock that webhooks wait for for longer than one chunk takes.
    """
    if campaign.state in CLOSED_STATES:
        raise ImportRefused(f"campaign {campaign.name!r} is {campaign.state}: it takes no more contacts")
    if checkpoint is None:
        take_turn(session, campaign.id)
        return _import(session, campaign, stream, now, region, progress, needs, None)
    with turn_across_commits(session, campaign.id):
        return _import(session, campaign, stream, now, region, progress, needs, checkpoint)


def _import(
    session: Session,
    campaign: Campaign,
    stream: TextIO,
    now: datetime,
    region: str | None,
    progress: Callable[[int], None] | None,
    needs: Collection[str],
    checkpoint: Callable[[], None] | None,
) -> ImportReport:
    report = ImportReport(region=region or region_of(campaign.caller_id))
    window = CallingWindow.parse(campaign.window_start, campaign.window_end)
    reader = ContactReader(stream, report.region, campaign.default_timezone, window, now)
    supplied = (
        {name for _index, name in reader.columns.variables} | GIVEN | ({"desk"} if campaign.desk else set())
    )
    missing = sorted(set(needs) - supplied)
    if missing:
        raise FileError(
            f"the flow {campaign.flow!r} uses variables this file has no column for: {', '.join(missing)}"
        )

    def checked() -> Iterator[Row]:
        for item in reader:
            report.rows += 1
            if isinstance(item, Invalid):
                report.invalid.append(item)
            else:
                yield item
            if progress is not None and report.rows % CHUNK == 0:
                progress(report.rows)

    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        rows: Iterable[Row] = checked()
        if checkpoint is not None:  # read and check everything before the first write
            for row in rows:
                spool.write(json.dumps([row.line, row.phone, row.name, row.timezone, row.variables]) + "\n")
            spool.seek(0)
            rows = (Row(*json.loads(text_line)) for text_line in spool)
        writer = _Writer(session, campaign, report, now, checkpoint)
        for row in rows:
            writer.add(row)
        writer.flush()
    report.blank_lines = reader.blank_lines
    # numbers merged into contacts already there count too: they are called (or skipped) all the same
    earlier = {m.phone for m in report.merged if m.earlier_import}
    report.on_do_not_call += len(blocked_among(session, earlier))
    report.merged.sort(key=lambda m: m.line)
    return report
