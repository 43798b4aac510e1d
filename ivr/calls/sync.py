"""Incremental sync of the call log: the calls changed since a point, in the order they changed,
a page at a time with an opaque keyset cursor; only changes older than a settle window (docs/api.md)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from ..bounds import loads_json
from ..models import Call
from .periods import moment
from .query import CallFilters, FilterError

# A write that started at t commits before t + SETTLE_SECONDS (gunicorn kills a request after 30 s, and
# its transaction with it), so the rows changed before now - SETTLE_SECONDS never change behind a cursor.
SETTLE_SECONDS = 60


@dataclass(frozen=True, order=True)
class Position:
    """A place in the order of changes: after the row `row_id` changed at `updated_at`."""

    updated_at: datetime
    row_id: int

    def cursor(self) -> str:
        """This position as an opaque cursor (base64url JSON; clients must not build one)."""
        text = json.dumps({"u": self.updated_at.isoformat(), "i": self.row_id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def from_cursor(cls, text: str) -> Position:
        """The position of a cursor this API gave; FilterError for anything else."""
        try:
            data = loads_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            at = datetime.fromisoformat(data["u"])
            if at.tzinfo is None:
                raise ValueError("no time zone")
            found = cls(at.astimezone(UTC), int(data["i"]))
        except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            raise FilterError(
                f"after: {text[:40]!r} is not a cursor of this API (give the `cursor` of a previous page)"
            ) from None
        return found

    @classmethod
    def from_args(cls, after: str | None, updated_since: str | None) -> Position | None:
        """The position asked for by `after` (a cursor) or `updated_since` (a time), None when neither."""
        after, updated_since = (after or "").strip(), (updated_since or "").strip()
        if after and updated_since:
            raise FilterError("after: give after (a cursor) or updated_since (a time), not both")
        if after:
            return cls.from_cursor(after)
        if updated_since:
            try:
                since = moment("updated_since", updated_since)
            except ValueError as exc:
                raise FilterError(str(exc)) from None
            assert since is not None
            return cls(since, 0)  # ids start at 1: every row changed at or after `since`
        return None


@dataclass(frozen=True)
class Changes:
    """One page of changed calls, where to resume, and the time before which changes are served."""

    calls: list[Call]
    position: Position
    full: bool
    settled_before: datetime


def changed_calls(
    s: Session, filters: CallFilters, after: Position, now: datetime, settle_seconds: float = SETTLE_SECONDS
) -> Changes:
    """The calls matching `filters` changed after `after` and before now - settle_seconds, oldest change
    first (ties by id), at most filters.per_page of them."""
    settled_before = now - timedelta(seconds=settle_seconds)
    keyset = or_(
        Call.updated_at > after.updated_at, and_(Call.updated_at == after.updated_at, Call.id > after.row_id)
    )
    stmt = (
        filters.query()
        .order_by(None)
        .where(keyset, Call.updated_at < settled_before)
        .order_by(Call.updated_at, Call.id)
        .limit(filters.per_page)
    )
    rows = list(s.scalars(stmt))
    last = Position(rows[-1].updated_at, rows[-1].id) if rows else after
    return Changes(rows, last, len(rows) == filters.per_page, settled_before)
