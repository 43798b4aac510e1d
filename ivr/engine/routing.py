"""Choosing a desk: route strategies, desk hours, live queue figures and the overflow rules they feed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .schedules import is_open
from .site import Desk, Node, Site

DEFAULT_HANDLE_SECONDS = 300.0  # assumed handle time until a desk has answered calls to learn from


@dataclass(frozen=True)
class QueueStats:
    """A desk's queue right now: callers waiting, agents signed in, recent average handle time (s)."""

    waiting: int
    agents: int
    handle_seconds: float | None = None

    @property
    def estimated_wait(self) -> float | None:
        """Seconds a caller joining now would wait: waiting x handle time / agents; None without agents.

        Without an agent signed in nobody answers, however short the queue: the wait is unknown (too long).
        """
        if self.agents == 0:
            return None
        return self.waiting * (self.handle_seconds or DEFAULT_HANDLE_SECONDS) / self.agents


QueueFigures = Callable[[str], QueueStats]  # desk name -> its figures (read from the call log by the app)


@dataclass(frozen=True)
class Choice:
    """A routing decision and why it was made, in words for the call log."""

    desk: str
    reason: str


def draw(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: the same inputs always draw the same number."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_weighted(weights: Mapping[str, int | float], point: float) -> str:
    """The desk whose share of the total weight contains `point` (desks in the order given)."""
    total = sum(weights.values())
    edge = 0.0
    for desk, weight in weights.items():
        edge += weight / total
        if point < edge and weight > 0:
            return desk
    return [desk for desk, weight in weights.items() if weight > 0][-1]  # point rounded up to 1.0


def _shares(weights: Mapping[str, int | float]) -> str:
    return ", ".join(f"{desk} {weight}" for desk, weight in weights.items())


def desk_open(site: Site, desk: Desk, now: datetime) -> bool:
    """Whether the desk's hours are open now (a desk without hours is always open)."""
    return desk.hours is None or is_open(site.schedules[desk.hours], now)


def queue_full(desk: Desk, stats: QueueStats | None) -> bool:
    """Whether the desk's overflow rule caps its queue and that many callers wait already."""
    cap = desk.overflow.max_queue if desk.overflow else None
    return cap is not None and stats is not None and stats.waiting >= cap


@dataclass(frozen=True)
class RouteRequest:
    """What a strategy may look at: the site, the node, the call and the queue figures."""

    site: Site
    node_name: str
    node: Node
    call_sid: str
    caller: str
    now: datetime
    figures: QueueFigures | None

    def stats(self, desk: str) -> QueueStats | None:
        """The desk's queue figures, if the app supplies them."""
        return self.figures(desk) if self.figures is not None else None


def fixed(req: RouteRequest) -> Choice:
    """Always the node's desk."""
    return Choice(req.node["desk"], "fixed desk")


def weighted(req: RouteRequest) -> Choice:
    """A random split by weight, drawn from the CallSid (so a replayed step decides the same)."""
    point = draw("weighted", req.node_name, req.call_sid)
    desk = pick_weighted(req.node["weights"], point)
    return Choice(desk, f"weighted split ({_shares(req.node['weights'])}): draw {point:.3f} -> {desk}")


def caller_key(number: str) -> str:
    """The caller's number reduced to its digits; empty when withheld or anonymous."""
    return "".join(ch for ch in number if ch.isdigit())


def sticky(req: RouteRequest) -> Choice:
    """A split by a hash of the caller's number: a caller who calls again reaches the same desk."""
    weights = req.node["weights"]
    key = caller_key(req.caller)
    if not key:
        point = draw("weighted", req.node_name, req.call_sid)
        desk = pick_weighted(weights, point)
        return Choice(
            desk, f"sticky split ({_shares(weights)}): no caller number, drew {point:.3f} -> {desk}"
        )
    point = draw("sticky", req.node.get("salt", ""), key)
    desk = pick_weighted(weights, point)
    return Choice(desk, f"sticky split ({_shares(weights)}): caller hash {point:.3f} -> {desk}")


def schedule(req: RouteRequest) -> Choice:
    """Follow the sun: the first desk in the list whose hours are open now, else the node's `else`."""
    desks: Sequence[str] = req.node["desks"]
    for name in desks:
        desk = req.site.desks[name]
        if desk_open(req.site, desk, req.now):
            where = f"hours {desk.hours!r}" if desk.hours else "no hours set"
            return Choice(name, f"schedule: {name} is open ({where})")
    fallback = req.node.get("else", desks[0])
    return Choice(fallback, f"schedule: none of {', '.join(desks)} is open -> {fallback}")


def overflow(req: RouteRequest) -> Choice:
    """The node's desk, unless its queue is at max_queue or its estimated wait exceeds max_wait."""
    primary, other = req.node["desk"], req.node["to"]
    rule = req.site.desks[primary].overflow
    max_queue = req.node.get("max_queue", rule.max_queue if rule else None)
    max_wait = req.node.get("max_wait", rule.max_wait if rule else None)
    stats = req.stats(primary)
    if stats is None:
        return Choice(primary, f"overflow: no queue figures for {primary}, kept")
    if max_queue is not None and stats.waiting >= max_queue:
        return Choice(
            other, f"overflow: {stats.waiting} waiting at {primary} >= max_queue {max_queue} -> {other}"
        )
    wait = stats.estimated_wait
    if max_wait is not None and (wait is None or wait > max_wait):
        said = "unknown (no agents signed in)" if wait is None else f"{wait:.0f} s"
        return Choice(
            other, f"overflow: estimated wait at {primary} {said} > max_wait {max_wait} s -> {other}"
        )
    said = "unknown" if wait is None else f"{wait:.0f} s"
    return Choice(primary, f"overflow: {stats.waiting} waiting at {primary}, estimated wait {said}, kept")


def failover(req: RouteRequest) -> Choice:
    """The first desk in the list that can take the call: open and its queue not full."""
    desks: Sequence[str] = req.node["desks"]
    skipped: list[str] = []
    for name in desks:
        desk = req.site.desks[name]
        if not desk_open(req.site, desk, req.now):
            skipped.append(f"{name} closed")
        elif queue_full(desk, req.stats(name)):
            skipped.append(f"{name} queue full")
        else:
            why = f" ({'; '.join(skipped)})" if skipped else ""
            return Choice(name, f"failover: {name} can take the call{why}")
    return Choice(desks[-1], f"failover: no desk can take the call ({'; '.join(skipped)}) -> {desks[-1]}")


SPLITS = ("weighted", "sticky")  # the strategies that split calls between desks at random


def is_split(strategy: str, node: Node) -> bool:
    """Whether the route node splits calls at random between two or more desks (a positive weight each)."""
    return strategy in SPLITS and sum(1 for weight in node["weights"].values() if weight > 0) >= 2


ROUTE_STRATEGIES: dict[str, Callable[[RouteRequest], Choice]] = {
    "fixed": fixed,
    "weighted": weighted,
    "sticky": sticky,
    "schedule": schedule,
    "overflow": overflow,
    "failover": failover,
}
