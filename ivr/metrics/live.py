"""The live wallboard's document: every desk now and today so far, against its targets, read from the database
on each request (no state in the process). The same document for the page, its refresh and GET /api/live."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..calls import floor
from ..engine.site import Desk
from . import sql, targets

REFRESH_SECONDS = 5  # how often the page asks again; other screens may poll the API as often


def board(
    session: Session, desks: Mapping[str, Desk], now: datetime, only: str | None = None
) -> dict[str, Any]:
    """The wallboard at `now` for the desks (only: that one desk), in the site's order of desks."""
    at_desks = floor.at_desks(session, now)
    rows = []
    for desk in desks.values():
        if only is not None and desk.name != only:
            continue
        settings = targets.settings_for(desk.targets)
        since = targets.day_start(now, desk.timezone)
        sums = sql.totals(session, desk.name, since, settings)
        figures = at_desks.get(desk.name, floor.DeskNow()).as_dict()
        rows.append(targets.desk_row(desk, figures, sums, since, settings))
    return {
        "at": now.isoformat(),
        "refresh_seconds": REFRESH_SECONDS,
        "desks": rows,
        "definitions": targets.DEFINITIONS,
    }


class Refused(ValueError):
    """A wallboard that cannot be shown as asked: the HTTP status that says why (400, 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def scoped_desk(desks: Mapping[str, Desk], asked: str | None, partner_desk: str | None) -> str | None:
    """The one desk a wallboard shows (None: every desk): `asked`, checked, or a partner's own desk.

    Refused (400) names an unknown desk and the valid choices; Refused (403) when a partner asks for another.
    """
    if asked is not None and asked not in desks:
        known = ", ".join(sorted(desks))
        raise Refused(400, f"desk: unknown desk {asked!r} (the published site has: {known})")
    if partner_desk is not None and asked not in (None, partner_desk):
        raise Refused(403, f"desk: a partner sees only their own desk, {partner_desk!r}")
    return partner_desk if partner_desk is not None else asked


def asked_board(
    session: Session, desks: Mapping[str, Desk], now: datetime, asked: str | None, partner_desk: str | None
) -> dict[str, Any]:
    """The wallboard a page or API request asks for (`asked`: one desk, or None), a partner's desk only."""
    return board(session, desks, now, scoped_desk(desks, asked, partner_desk))
