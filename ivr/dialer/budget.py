"""The calls-per-second budgets shared by every worker: the account's (dial_budget) and each campaign's.
Slots are taken with compare-and-set updates (docs/dialer.md, "Pacing" and "Inside the worker")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection, Engine

from ..db import InsertOrSkip
from ..models import Campaign, DialBudget

MARGIN = 0.01  # slots are 1% further apart than 1/cps ...
LATE = 0.005  # ... and a call starts at most 5 ms after its slot: 10 ms - 5 ms of room in each second
BUDGET = cast(Table, DialBudget.__table__)
CAMPAIGNS = cast(Table, Campaign.__table__)
ACCOUNT_BUDGET = InsertOrSkip(BUDGET, ("id", "next_slot_at"))  # the account's row, made on first use
ACCOUNT_ROW = 1
AHEAD = timedelta(
    milliseconds=20
)  # a campaign slot this close is taken (the account's gap before it is lost)
MAX_TRIES = 1000


class _Lost(Exception):
    """Another worker moved a slot between our read and our update."""


class _Missing(Exception):
    """The account's budget row does not exist yet."""


@dataclass(frozen=True)
class Slot:
    """A reserved slot (granted) at `at`, or (not granted) the campaign's next slot to come back at."""

    granted: bool
    at: datetime


def spacing(cps: float) -> timedelta:
    """The time between two slots of a `cps` budget."""
    return timedelta(seconds=(1 + MARGIN) / cps)


def _ensure_row(conn: Connection, now: datetime) -> None:
    ACCOUNT_BUDGET.execute(conn, {"id": ACCOUNT_ROW, "next_slot_at": now})


def _try(conn: Connection, campaign_id: int, now: datetime, account_cps: float, campaign_cps: float) -> Slot:
    own_slot = select(CAMPAIGNS.c.next_slot_at).where(CAMPAIGNS.c.id == campaign_id).scalar_subquery()
    row = conn.execute(  # one statement: both values from the same moment
        select(BUDGET.c.next_slot_at, own_slot).where(BUDGET.c.id == ACCOUNT_ROW)
    ).first()
    if row is None:
        raise _Missing
    account, own = row
    if own is not None and own > max(now, account) + AHEAD:
        return Slot(False, own)
    earliest = max(now, account, own or now)
    moved = conn.execute(
        update(BUDGET)
        .where(BUDGET.c.id == ACCOUNT_ROW, BUDGET.c.next_slot_at == account)
        .values(next_slot_at=earliest + spacing(account_cps))
    )
    if moved.rowcount != 1:
        raise _Lost
    moved = conn.execute(
        update(CAMPAIGNS)
        .where(CAMPAIGNS.c.id == campaign_id, CAMPAIGNS.c.next_slot_at.is_not_distinct_from(own))
        .values(next_slot_at=earliest + spacing(campaign_cps))
    )
    if moved.rowcount != 1:
        raise _Lost
    return Slot(True, earliest)


def reserve(engine: Engine, campaign_id: int, now: datetime, account_cps: float, campaign_cps: float) -> Slot:
    """Take the next slot free in both budgets (committed), or learn when the campaign's next one is."""
    for _ in range(MAX_TRIES):
        try:
            with engine.begin() as conn:
                return _try(conn, campaign_id, now, account_cps, campaign_cps)
        except _Lost:
            continue
        except _Missing:
            with engine.begin() as conn:
                _ensure_row(conn, now)
    raise RuntimeError(f"could not take a dial slot in {MAX_TRIES} tries")
