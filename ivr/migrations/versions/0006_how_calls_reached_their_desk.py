"""how each call reached its desk: route_strategy, assignment and segment on calls; queued_seconds in the
desk-metric rollups (days built before are read from the calls until rebuilt: definitions version 2)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:50:00
"""

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("route_strategy", 16), ("assignment", 16), ("segment", 255))

# The tables as this revision knows them (not the models, which move on).
CALLS = sa.table(
    "calls", sa.column("id", sa.BigInteger), sa.column("role", sa.String), sa.column("desk", sa.String),
    sa.column("path", sa.String), sa.column("route_strategy", sa.String), sa.column("assignment", sa.String),
    sa.column("segment", sa.String),
)  # fmt: skip
EVENTS = sa.table(
    "call_events", sa.column("id", sa.BigInteger), sa.column("call_id", sa.BigInteger),
    sa.column("kind", sa.String), sa.column("data", sa.JSON().with_variant(JSONB(), "postgresql")),
)  # fmt: skip
# What ivr.engine.routing logged for a split until now: "sticky split (local 1, bpo 0): caller hash ..."
SPLIT_REASON = re.compile(r"(?:weighted|sticky) split \(([^)]*)\)")
# the events that tell how a call reached its desk: routes, hand-offs to a desk, and desks' rules sending on
KINDS = ("route", "queue_entered", "dial_started", "overflow", "failover")
DATA_KEYS = ("desk", "to", "strategy", "reason", "segment")
BATCH = 20_000  # call ids per round
IN_LIST = 900  # ids per IN (...): under any SQLite's limit of bound parameters
# the calls that reached a desk (agent legs have one too, but no route)
AT_A_DESK = sa.and_(CALLS.c.desk.is_not(None), CALLS.c.role != "agent")
FALLBACK = ("fallback", "directed", None)  # no route node chose the desk; segment: the call's menu path
How = tuple[str, str, str | None]  # route_strategy, assignment, segment (None: the call's menu path)
Event = tuple[Any, ...]  # kind, then the data's DATA_KEYS


def assignment(strategy: str | None, reason: str | None) -> str:
    """'split' when the route's logged reason shows a weighted or sticky split with two desks or more."""
    found = SPLIT_REASON.match(reason or "") if strategy in ("weighted", "sticky") else None
    if found is None:
        return "directed"
    weights = [share.rpartition(" ")[2] for share in found.group(1).split(", ")]
    return "split" if sum(1 for weight in weights if float(weight or 0) > 0) >= 2 else "directed"


def reached(events: list[Event]) -> How:
    """How a call reached its desk, from its events in order: the last route, unless the call was then
    handed to a desk that neither the route nor a desk's overflow or failover rule chose (a fallback)."""
    how: How = FALLBACK
    chosen: set[str | None] = set()
    for kind, desk, to, strategy, reason, segment in events:
        if kind == "route":
            how, chosen = (strategy or "fallback", assignment(strategy, reason), segment), {desk}
        elif kind in ("overflow", "failover"):
            chosen.add(to)
        elif desk is not None and desk not in chosen:  # an enqueue node that names its own desk
            how, chosen = FALLBACK, {desk}
    return how


def backfill(connection: sa.Connection) -> None:
    """How the calls logged so far reached their desk, from their events (see docs/call-log.md)."""
    # every call at a desk is first a fallback with its menu path as segment; then its events say more
    segment = sa.func.coalesce(CALLS.c.path, "(none)")
    connection.execute(
        sa.update(CALLS)
        .where(AT_A_DESK)
        .values(route_strategy="fallback", assignment="directed", segment=segment)
    )
    data = EVENTS.c.data
    events = (
        sa.select(EVENTS.c.call_id, EVENTS.c.kind, *(data[key].as_string() for key in DATA_KEYS))
        .join(CALLS, CALLS.c.id == EVENTS.c.call_id)
        .where(
            EVENTS.c.call_id.between(sa.bindparam("lo"), sa.bindparam("hi")),
            EVENTS.c.kind.in_(KINDS),
            AT_A_DESK,
        )
        .order_by(EVENTS.c.call_id, EVENTS.c.id)
    )
    last = connection.execute(sa.select(sa.func.max(CALLS.c.id))).scalar() or 0
    for lo in range(0, last + 1, BATCH):
        by_call: defaultdict[int, list[Event]] = defaultdict(list)
        for call_id, *event in connection.execute(events, {"lo": lo, "hi": lo + BATCH - 1}):
            by_call[call_id].append(tuple(event))
        groups: defaultdict[How, list[int]] = defaultdict(list)
        for call_id, rows in by_call.items():
            groups[reached(rows)].append(call_id)
        groups.pop(FALLBACK, None)  # set already
        for (strategy, assigned, label), ids in groups.items():
            values = {"route_strategy": strategy, "assignment": assigned} | (
                {"segment": label} if label else {}
            )
            for start in range(0, len(ids), IN_LIST):
                connection.execute(
                    sa.update(CALLS).where(CALLS.c.id.in_(ids[start : start + IN_LIST])).values(values)
                )


def upgrade() -> None:
    """Apply this revision."""
    # plain ADD COLUMN (no batch copy): SQLite would drop the rollup triggers with a copied table
    for name, length in COLUMNS:
        op.add_column("calls", sa.Column(name, sa.String(length=length), nullable=True))
    backfill(op.get_bind())
    op.add_column(
        "rollup_buckets", sa.Column("queued_seconds", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_column("rollup_buckets", "queued_seconds")
    for name, _length in reversed(COLUMNS):
        op.drop_column("calls", name)
