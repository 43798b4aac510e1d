"""Reading the call log: filters shared by the API and the web pages, JSON shapes and CSV export.
Every reader passes the viewer, which narrows a partner to their desk and masks numbers (docs/desks.md)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker, with_expression

from ..engine.agent_line import AGENT_ROLE
from ..engine.costs import Leg, leg_cost
from ..engine.site import Desk
from ..models import STATUS_RANK, Call, CallEvent
from .cells import safe_row
from .outcomes import OUTCOMES, outcome
from .periods import DATE_ONLY, moment
from .privacy import OPS, Viewer, mask_data, mask_number, mask_text

MAX_PER_PAGE = 500
CSV_HEADERS = {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": "attachment; filename=calls.csv",
}
CSV_FIELDS = (
    "call_sid", "parent_call_sid", "direction", "from", "to", "status", "started_at", "ended_at", "duration",
    "flow", "desk", "role", "overflow_from", "queued_at", "path", "route_strategy", "assignment", "segment",
    "queue_time", "queue_result", "talk_time", "agent", "survey_score", "cost",
    "recording_url", "recording_duration", "errors", "outcome",
)  # fmt: skip


class FilterError(ValueError):
    """A filter parameter that cannot be understood; the message starts with its name ("desk: ...")."""


DIRECTIONS = ("inbound", "outbound-api", "outbound-dial")
LEGS = ("callers", "agents", "outbound", "all")
SORTS: dict[str, Any] = {"start": Call.started_at, "wait": Call.queue_time, "talk": Call.talk_time}
NUMBER = re.compile(r"\+?[0-9]+")
SEPARATORS = re.compile(r"[\s().-]")  # what people type between digits: kept out of the search


def _moment(name: str, text: str, end_of_day: bool, zone: str) -> datetime | None:
    """A query-string time; a date alone is a day in `zone` (the page's zone; UTC over the API)."""
    try:
        found = moment(name, text, end_of_day)
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    if found is not None and zone != "UTC" and DATE_ONLY.fullmatch(text):
        return found.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)  # the same midnight, in the zone
    return found


def _positive(name: str, text: str | None, default: int, limit: int) -> int:
    if text in (None, ""):
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or int(text) < 1:
        raise FilterError(f"{name}: {text!r} is not a positive whole number")
    if int(text) > limit:
        raise FilterError(f"{name}: {text} is more than the most allowed, {limit}")
    return int(text)


def _choices(name: str, text: str, valid: Collection[str]) -> tuple[str, ...]:
    """A comma-separated list of values, each one of `valid`; FilterError lists the valid ones."""
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in values if v not in valid]
    if unknown:
        raise FilterError(f"{name}: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(valid)}")
    return values


def _choice(name: str, text: str, valid: Collection[str], default: str = "") -> str:
    """One value of `valid` (or the default when empty)."""
    found = _choices(name, text, valid)
    if len(found) > 1:
        raise FilterError(f"{name}: give one of {', '.join(valid)}, not several")
    return found[0] if found else default


def _number(text: str) -> str:
    number = SEPARATORS.sub("", text)
    if number and not NUMBER.fullmatch(number):
        raise FilterError(f"number: {text!r} is not a phone number or part of one (digits, + first)")
    return number


@dataclass(frozen=True)
class CallFilters:
    """What the caller asked for: a time range, a number, a desk, statuses, outcomes, legs, order and page."""

    since: datetime | None = None
    until: datetime | None = None
    number: str = ""
    desk: str = ""
    statuses: tuple[str, ...] = ()
    direction: str = ""
    outcomes: tuple[str, ...] = ()
    legs: str = "callers"
    sort: str = "-start"
    page: int = 1
    per_page: int = 50
    scope_desk: str | None = None  # a partner's desk: set only by for_viewer, never from the query string
    zone: str = "UTC"  # where a date alone starts and ends: the caller's choice, never from these arguments

    # every query-string argument from_args reads (an API refuses any other)
    PARAMETERS: ClassVar[frozenset[str]] = frozenset(
        ("since", "until", "number", "desk", "status", "direction", "outcome", "legs", "sort", "page")
    ) | {"per_page"}

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], desks: Collection[str] | None = None, zone: str = "UTC"
    ) -> CallFilters:
        """Filters from query-string arguments; FilterError names a bad one and the valid choices.

        `desks` are the published site's desks (None: any desk name is accepted); a date alone in `since`
        or `until` is a day in `zone`.
        """
        since_text, until_text = args.get("since", "").strip(), args.get("until", "").strip()
        since = _moment("since", since_text, False, zone) if since_text else None
        until = _moment("until", until_text, True, zone) if until_text else None
        for name, found in (("since", since), ("until", until)):
            try:  # shown as a day in the zone: the first and last days of the calendar must stay in it
                if found is not None:
                    (found - timedelta(microseconds=1)).astimezone(ZoneInfo(zone)).date()
                    found.astimezone(ZoneInfo(zone)).date()
            except OverflowError:
                text = args.get(name)
                raise FilterError(f"{name}: {text!r} is too near the ends of the calendar") from None
        if since is not None and until is not None and since >= until:
            raise FilterError(f"since: {since_text} is not before until {until_text}")
        desk = args.get("desk", "").strip()
        if desk and desks is not None and desk not in desks:
            known = ", ".join(sorted(desks)) or "none (nothing is published)"
            raise FilterError(f"desk: unknown desk {desk!r}; the site's desks are {known}")
        sort = args.get("sort", "").strip() or "-start"
        if sort.removeprefix("-") not in SORTS:
            choices = ", ".join(f"{name}, -{name}" for name in SORTS)
            raise FilterError(f"sort: unknown order {sort!r}; choose from {choices}")
        return cls(
            since=since,
            until=until,
            number=_number(args.get("number", "")),
            desk=desk,
            statuses=_choices("status", args.get("status", ""), tuple(STATUS_RANK)),
            direction=_choice("direction", args.get("direction", ""), DIRECTIONS),
            outcomes=_choices("outcome", args.get("outcome", ""), OUTCOMES),
            legs=_choice("legs", args.get("legs", ""), LEGS, "callers"),
            sort=sort,
            page=_positive("page", args.get("page"), 1, 10**9),
            per_page=_positive("per_page", args.get("per_page"), 50, MAX_PER_PAGE),
            zone=zone,
        )

    @property
    def last_day(self) -> date | None:
        """The last day `until` includes (it is excluded itself), in the filters' zone, for a date field."""
        if self.until is None:
            return None
        return (self.until - timedelta(microseconds=1)).astimezone(ZoneInfo(self.zone)).date()

    @property
    def first_day(self) -> date | None:
        """The day `since` falls on, in the filters' zone, for a date field."""
        return self.since.astimezone(ZoneInfo(self.zone)).date() if self.since is not None else None

    def for_viewer(self, viewer: Viewer) -> CallFilters:
        """These filters narrowed to what the viewer may see; FilterError for a search they may not make.

        Searching by number is refused to partners whose numbers are masked: matching calls would reveal
        the hidden digits one guess at a time.
        """
        if not viewer.is_partner:
            return self
        if self.number and viewer.masks_numbers:
            raise FilterError(
                f"number: search by number is not available: desk {viewer.desk} does not show caller numbers"
            )
        return replace(self, scope_desk=viewer.desk)

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions of these filters (on the calls table)."""
        found: list[ColumnElement[bool]] = []
        if self.scope_desk is not None:
            found.append(Call.desk == self.scope_desk)
        if self.since:
            found.append(Call.started_at >= self.since)
        if self.until:
            found.append(Call.started_at < self.until)
        if self.number:
            pattern = f"%{self.number}%"
            found.append(or_(Call.from_number.like(pattern), Call.to_number.like(pattern)))
        if self.desk:
            found.append(Call.desk == self.desk)
        if self.statuses:
            found.append(Call.status.in_(self.statuses))
        if self.direction:
            found.append(Call.direction == self.direction)
        if self.outcomes:
            found.append(outcome().in_(self.outcomes))
        if self.legs == "callers":
            found.append(Call.role != AGENT_ROLE)
        elif self.legs == "agents":
            found.append(Call.role == AGENT_ROLE)
        elif self.legs == "outbound":
            found.append(Call.direction.like("outbound%"))
        return found

    def query(self) -> Select[tuple[Call]]:
        """The filtered calls in the asked order (newest first by default), each with its outcome."""
        stmt = select(Call).options(with_expression(Call.outcome, outcome())).where(*self.conditions())
        descending = self.sort.startswith("-")
        keys = (SORTS[self.sort.removeprefix("-")], Call.started_at, Call.id)  # ties: by start, then row
        order = [key.desc() if descending else key.asc() for key in keys]
        return stmt.order_by(order[0].nulls_last(), *order[1:])

    def as_args(self, **changes: Any) -> dict[str, str]:
        """The filters as query-string arguments (for links to other pages); defaults are left out."""
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "number": self.number,
            "desk": self.desk,
            "status": ",".join(self.statuses),
            "direction": self.direction,
            "outcome": ",".join(self.outcomes),
            "legs": "" if self.legs == "callers" else self.legs,
            "sort": "" if self.sort == "-start" else self.sort,
            "per_page": str(self.per_page),
            "page": str(self.page),
        } | {k: str(v) for k, v in changes.items()}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Page:
    """One page of calls and how many match in all."""

    calls: list[Call]
    total: int
    filters: CallFilters

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.filters.page * self.filters.per_page < self.total


def page_of_calls(s: Session, filters: CallFilters) -> Page:
    """The requested page of matching calls."""
    stmt = filters.query()
    total = s.scalar(select(func.count()).select_from(Call).where(*filters.conditions())) or 0
    rows = s.scalars(stmt.limit(filters.per_page).offset((filters.page - 1) * filters.per_page)).all()
    return Page(list(rows), total, filters)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def call_cost(call: Call, desks: Mapping[str, Desk]) -> float | None:
    """What this leg cost its desk at these desks' prices (ivr.engine.costs); None without one."""
    desk = desks.get(call.desk) if call.desk is not None else None
    if desk is None:
        return None
    return leg_cost(desk, Leg(call.role, call.duration, call.talk_time, call.queue_result))


def call_dict(call: Call, desks: Mapping[str, Desk]) -> dict[str, Any]:
    """A call as the API shows it, priced at the published `desks` (field names are fixed: reports are
    recomputed from them)."""
    return {
        "call_sid": call.call_sid,
        "parent_call_sid": call.parent_call_sid,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "status": call.status,
        "started_at": _iso(call.started_at),
        "ended_at": _iso(call.ended_at),
        "duration": call.duration,
        "flow": call.flow,
        "node": call.node,
        "site_version": call.site_version_id,
        "desk": call.desk,
        "role": call.role,  # caller | agent (an agent's own leg on the agent line)
        "overflow_from": call.overflow_from,
        "queued_at": _iso(call.queued_at),
        "path": call.path,
        # how the call reached its desk: the route's strategy (or fallback), split or directed, its segment
        "route_strategy": call.route_strategy,
        "assignment": call.assignment,
        "segment": call.segment,
        "queue_time": call.queue_time,
        "queue_result": call.queue_result,
        "talk_time": call.talk_time,
        "agent": call.agent,
        "survey_score": call.survey_score,
        "cost": call_cost(call, desks),
        "recording_url": call.recording_url,
        "recording_duration": call.recording_duration,
        "transcription": call.transcription,
        "errors": call.errors,
        "outcome": call.outcome,  # ivr.calls.outcomes: None for an agent's own leg
        "updated_at": _iso(call.updated_at),  # the last change of the row (the API's incremental sync)
    }


def call_numbers(call: Call) -> tuple[str, ...]:
    """The phone numbers of a call, to be found and masked wherever they appear in its data."""
    return tuple(n for n in (call.from_number, call.to_number) if n)


def shown_call(call: Call, desks: Mapping[str, Desk], viewer: Viewer = OPS) -> dict[str, Any]:
    """call_dict as this viewer may see it: numbers masked when their data policy says so."""
    data = call_dict(call, desks)
    if viewer.masks_numbers:
        data["from"], data["to"] = mask_number(data["from"]), mask_number(data["to"])
        if data["transcription"]:
            data["transcription"] = mask_text(data["transcription"], call_numbers(call))
    return data


def visible_call(s: Session, call_sid: str, viewer: Viewer = OPS) -> Call | None:
    """The call if this viewer may see it (a partner: only their desk's), else None as if it did not exist."""
    call = s.scalars(
        select(Call)
        .where(Call.call_sid == call_sid)
        .options(with_expression(Call.outcome, outcome()))
        .execution_options(populate_existing=True)
    ).first()
    if call is None or (viewer.is_partner and call.desk != viewer.desk):
        return None
    return call


def events_of(s: Session, call: Call) -> list[CallEvent]:
    """A call's timeline in order."""
    return list(s.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id)))


def event_dict(event: CallEvent) -> dict[str, Any]:
    """An event as the API shows it."""
    return {"at": _iso(event.at), "kind": event.kind, "node": event.node, "data": event.data}


def shown_event(event: CallEvent, viewer: Viewer, known: tuple[str, ...]) -> dict[str, Any]:
    """event_dict as this viewer may see it: numbers (the call's `known` ones and any other) masked."""
    data = event_dict(event)
    if viewer.masks_numbers:
        data["data"] = mask_data(data["data"], known)
    return data


def csv_rows(
    sessions: sessionmaker[Session], filters: CallFilters, desks: Mapping[str, Desk], viewer: Viewer = OPS
) -> Iterator[str]:
    """Every matching call (priced at `desks`) as CSV text, header first, streamed in batches.

    The generator runs after the view has returned (and its session was closed), so it opens and
    closes a session of its own.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    with sessions() as s:
        for call in s.scalars(filters.query().execution_options(yield_per=1000)):
            writer.writerow(safe_row(shown_call(call, desks, viewer)))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
