"""Reading a contact list: a CSV stream into checked rows or line-numbered problems, one row at a time. Pure.
The columns and line numbering are in docs/campaigns.md, "Contact lists"."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from phonenumbers import PhoneNumber

from .phone import PhoneError, e164, parse_valid
from .window import CallingWindow, has_common_window, is_zone, number_zones

VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")  # as the flow schema's variable names
BUILTIN = frozenset({"caller", "called", "call_sid"})  # set by the engine on every call
KNOWN = {"phone": "phone", "name": "name", "timezone": "timezone", "time_zone": "timezone"}
NAME_LENGTH = 200
FIELD_LIMIT = csv.field_size_limit()  # characters a CSV field may hold (Python's default, 128 Ki)


class FileError(ValueError):
    """A file that cannot be imported at all (a bad header, not UTF-8); nothing of it is imported."""


@dataclass
class Row:
    """A valid contact row."""

    line: int
    phone: str  # E.164
    name: str
    timezone: str | None
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Invalid:
    """A row that was not imported, and why."""

    line: int
    reason: str
    value: str = ""  # the phone column as written


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the line it starts on and its fields, or why it cannot be read (then no fields)."""

    line: int
    fields: list[str]
    problem: str = ""


def _unreadable(error: csv.Error) -> str:
    if "field limit" in str(error):
        return f"a field is longer than {FIELD_LIMIT} characters (the most a CSV field may hold here)"
    return f"unreadable CSV: {error}"


def records(stream: TextIO) -> Iterator[Record]:
    """Every record of a CSV stream, numbered by the line it starts on. A record the csv module refuses (a
    field over FIELD_LIMIT, a stray quote with strict readers) is a Record with its problem, and reading goes
    on with the next line. UnicodeDecodeError (not UTF-8 text) passes through: each caller words it."""
    reader = csv.reader(stream)
    line = 0
    while True:
        start = line + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            line = reader.line_num
            yield Record(start, [], _unreadable(exc))
            continue
        if fields is None:
            return
        line = reader.line_num
        yield Record(start, fields)


@dataclass(frozen=True)
class Columns:
    """Where each known column is, and the variable columns."""

    phone: int
    name: int | None
    timezone: int | None
    variables: tuple[tuple[int, str], ...]
    count: int


def read_header(names: list[str], line: int = 1) -> Columns:
    """The columns of a header row; FileError listing every problem with it."""
    problems: list[str] = []
    found: dict[str, int] = {}
    variables: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, raw in enumerate(names):
        name = raw.strip()
        key = KNOWN.get(name.lower())
        if not name:
            problems.append(f"column {index + 1} has no name")
        elif key is not None:
            if key in found:
                problems.append(f"column {name!r} appears twice")
            found[key] = index
        elif name in seen:
            problems.append(f"column {name!r} appears twice")
        elif VARIABLE.match(name) is None:
            problems.append(
                f"column {name!r} is not a valid variable name (a letter, then letters, digits, '_' or '-')"
            )
        elif name in BUILTIN:
            problems.append(f"column {name!r} is a built-in variable of every call; rename it")
        seen.add(name)
        if name and key is None:
            variables.append((index, name))
    if "phone" not in found:
        problems.append("no 'phone' column")
    if problems:
        raise FileError(f"bad header (line {line}): " + "; ".join(problems))
    return Columns(found["phone"], found.get("name"), found.get("timezone"), tuple(variables), len(names))


def _field(fields: list[str], index: int | None) -> str:
    """The stripped value of column `index` ("" when the row is shorter or there is no such column)."""
    return fields[index].strip() if index is not None and index < len(fields) else ""


class ContactReader:
    """Iterates a contact CSV as Row or Invalid items; counts blank lines (which hold no contact)."""

    def __init__(
        self,
        stream: TextIO,
        region: str | None,
        default_timezone: str | None,
        window: CallingWindow,
        now: datetime,
    ) -> None:
        self.records = records(stream)
        self.region = region
        self.default_timezone = default_timezone
        self.window = window
        self.now = now
        self.blank_lines = 0
        self.line = 1  # where the next record starts
        try:
            header = next(self.records, None)
            while header is not None and not header.problem and not any(v.strip() for v in header.fields):
                header = next(self.records, None)  # blank lines first
        except UnicodeDecodeError as exc:
            raise FileError(f"line 1: {exc}") from None
        if header is None:
            raise FileError("the file is empty: it needs a header line with a 'phone' column")
        if header.problem:
            raise FileError(f"bad header (line {header.line}): {header.problem}")
        self.columns = read_header(header.fields, header.line)

    def __iter__(self) -> Iterator[Row | Invalid]:
        while True:
            try:
                record = next(self.records, None)
            except UnicodeDecodeError:
                raise FileError(f"line {self.line}: the file is not UTF-8 text") from None
            if record is None:
                return
            self.line = record.line + 1
            if record.problem:
                yield Invalid(record.line, record.problem)
            elif not any(value.strip() for value in record.fields):
                self.blank_lines += 1
            else:
                yield self.check(record.line, record.fields)

    def check(self, line: int, fields: list[str]) -> Row | Invalid:
        """The row at `line`, checked."""
        cols = self.columns
        raw = _field(fields, cols.phone)
        if len(fields) > cols.count:
            reason = f"{len(fields)} fields but the header has {cols.count} (a stray comma?)"
            return Invalid(line, reason, raw)
        if any("\x00" in value for value in fields):
            return Invalid(line, "contains a NUL character", raw.replace("\x00", ""))
        if not raw:
            return Invalid(line, "missing phone number")
        try:
            parsed = parse_valid(raw, self.region)
        except PhoneError as exc:
            return Invalid(line, str(exc), raw)
        name = _field(fields, cols.name)
        if len(name) > NAME_LENGTH:
            return Invalid(line, f"name longer than {NAME_LENGTH} characters", raw)
        zone = _field(fields, cols.timezone)
        problem = self.zone_problem(parsed, zone)
        if problem is not None:
            return Invalid(line, problem, raw)
        variables = {key: _field(fields, index) for index, key in cols.variables}
        return Row(line, e164(parsed), name, zone or None, variables)

    def zone_problem(self, phone: PhoneNumber, zone: str) -> str | None:
        """Why the contact's calling window cannot be known, or None."""
        if zone:
            return None if is_zone(zone) else f"bad time zone {zone!r} (an IANA name like America/Chicago)"
        zones = number_zones(phone)
        if not zones:
            if self.default_timezone:
                return None
            return (
                "no time zone: phonenumbers knows none for this number and the campaign has no "
                "default_timezone; add a timezone column"
            )
        if not has_common_window(zones, self.window, self.now):
            return (
                f"the calling window {self.window} is never open in all of the number's time zones at once "
                f"({', '.join(zones)}); give the row a timezone"
            )
        return None
