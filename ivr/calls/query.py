"""Reading the call log: filters shared by the API and the web pages, JSON shapes and CSV export.
Every reader passes the viewer, which narrows a partner to their desk and masks numbers (docs/desks.md)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..engine.costs import Leg, leg_cost
from ..engine.site import Desk
from ..models import Call, CallEvent
from .log import get_call
from .periods import moment
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
    "recording_url", "recording_duration", "errors",
)  # fmt: skip


class FilterError(ValueError):
    """A filter parameter that cannot be understood; the message names it."""


def _moment(name: str, text: str, end_of_day: bool) -> datetime | None:
    try:
        return moment(name, text, end_of_day)
    except ValueError as exc:
        raise FilterError(str(exc)) from None


def _positive(name: str, text: str | None, default: int, limit: int) -> int:
    if text in (None, ""):
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or int(text) < 1:
        raise FilterError(f"{name}: {text!r} is not a positive whole number")
    return min(int(text), limit)


@dataclass(frozen=True)
class CallFilters:
    """What the caller asked for: a time range, a number, a desk, statuses and a page."""

    since: datetime | None = None
    until: datetime | None = None
    number: str = ""
    desk: str = ""
    statuses: tuple[str, ...] = ()
    direction: str = ""
    page: int = 1
    per_page: int = 50
    scope_desk: str | None = None  # a partner's desk: set only by for_viewer, never from the query string

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CallFilters:
        """Filters from query-string arguments; FilterError names a bad one."""
        since, until = args.get("since", "").strip(), args.get("until", "").strip()
        return cls(
            since=_moment("since", since, end_of_day=False) if since else None,
            until=_moment("until", until, end_of_day=True) if until else None,
            number=re.sub(r"[^0-9+]", "", args.get("number", "")),
            desk=args.get("desk", "").strip(),
            statuses=tuple(s for s in args.get("status", "").replace(" ", "").split(",") if s),
            direction=args.get("direction", "").strip(),
            page=_positive("page", args.get("page"), 1, 10**9),
            per_page=_positive("per_page", args.get("per_page"), 50, MAX_PER_PAGE),
        )

    @property
    def last_day(self) -> date | None:
        """The last day `until` includes (it is excluded itself), for a date field."""
        return (self.until - timedelta(microseconds=1)).date() if self.until is not None else None

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

    def query(self) -> Select[tuple[Call]]:
        """The filtered calls, newest first."""
        stmt = select(Call)
        if self.scope_desk is not None:
            stmt = stmt.where(Call.desk == self.scope_desk)
        if self.since:
            stmt = stmt.where(Call.started_at >= self.since)
        if self.until:
            stmt = stmt.where(Call.started_at < self.until)
        if self.number:
            pattern = f"%{self.number}%"
            stmt = stmt.where(or_(Call.from_number.like(pattern), Call.to_number.like(pattern)))
        if self.desk:
            stmt = stmt.where(Call.desk == self.desk)
        if self.statuses:
            stmt = stmt.where(Call.status.in_(self.statuses))
        if self.direction:
            stmt = stmt.where(Call.direction == self.direction)
        return stmt.order_by(Call.started_at.desc(), Call.id.desc())

    def as_args(self, **changes: Any) -> dict[str, str]:
        """The filters as query-string arguments (for links to other pages)."""
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "number": self.number,
            "desk": self.desk,
            "status": ",".join(self.statuses),
            "direction": self.direction,
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
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
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
    call = get_call(s, call_sid)
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
            writer.writerow(shown_call(call, desks, viewer))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
