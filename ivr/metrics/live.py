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


class NotYours(ValueError):
    """A partner asked for another desk than their own."""


def scoped_desk(desks: Mapping[str, Desk], asked: str | None, partner_desk: str | None) -> str | None:
    """The one desk a wallboard shows (None: every desk): `asked`, checked, or a partner's own desk.

    ValueError names an unknown desk and the valid choices; NotYours when a partner asks for another desk.
    """
    if asked is not None and asked not in desks:
        raise ValueError(f"desk: unknown desk {asked!r} (the published site has: {', '.join(sorted(desks))})")
    if partner_desk is not None and asked not in (None, partner_desk):
        raise NotYours(f"desk: a partner sees only their own desk, {partner_desk!r}")
    return partner_desk if partner_desk is not None else asked
