"""A traffic run split into shards that can run side by side: cut at quiet hours, each with a random stream of
its own, so a shard comes out the same in any process (docs/simulator.md, "How fast, and both cores")."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .profile import Profile, arrival_times, day_kind

QUIET = timedelta(hours=6)  # the look-back of the queue figures (4 h), plus the IVR time before a queue


@dataclass(frozen=True)
class Shard:
    """One shard of a run: where its clock starts, where its agents' shifts stop, its calls and its seed."""

    index: int
    start: datetime
    end: datetime | None  # the next shard's start (None: the last shard)
    arrivals: tuple[datetime, ...]
    seed: str


def quiet_points(profile: Profile, start: datetime, days: int) -> list[datetime]:
    """Hour boundaries inside the run preceded by QUIET hours without arrivals or agents on shift.

    Of each quiet night only its last hour boundary is kept (the shards would be the same at any of them).
    """
    zone = ZoneInfo(profile.timezone)
    span = QUIET // timedelta(hours=1)
    hours = [start + timedelta(hours=h) for h in range(days * 24)]

    def idle(hour: datetime) -> bool:
        local = hour.astimezone(zone)
        kind = day_kind(local)
        busy = profile.arrivals[kind][local.hour] > 0 or any(
            desk.on_shift(hour) > 0 for desk in profile.desks.values()
        )
        return not busy

    quiet = [idle(hour) for hour in hours]
    points = [hours[h] for h in range(span, len(hours)) if all(quiet[h - span : h])]
    return [point for point in points if point + timedelta(hours=1) not in points]


def plan(profile: Profile, calls: int, start: datetime, days: int, seed: int, shards: int) -> list[Shard]:
    """Up to `shards` shards of a run, with about as many calls each; fewer when quiet hours are lacking.

    The arrival times are drawn first, for the whole run, from the seed alone; then each shard gets those
    between its quiet start and the next shard's.
    """
    arrivals = arrival_times(profile, calls, start, days, random.Random(seed))
    points = quiet_points(profile, start, days) if shards > 1 else []
    cuts: list[datetime] = []
    for k in range(1, shards):
        target = arrivals[min(len(arrivals) - 1, k * len(arrivals) // shards)] if arrivals else start
        later = [p for p in points if (not cuts or p > cuts[-1])]
        if later:
            cuts.append(min(later, key=lambda p: abs((p - target).total_seconds())))
    bounds = [start, *cuts]
    while len(bounds) > 1:  # a shard without calls would only run its agents' shifts: join it to the next
        counts = [sum(1 for when in arrivals if when >= b and (e is None or when < e))
                  for b, e in zip(bounds, [*bounds[1:], None], strict=True)]  # fmt: skip
        if 0 not in counts:
            break
        empty = counts.index(0)
        del bounds[max(empty, 1)]
    result = []
    for index, begin in enumerate(bounds):
        end = bounds[index + 1] if index + 1 < len(bounds) else None
        mine = tuple(when for when in arrivals if when >= begin and (end is None or when < end))
        result.append(Shard(index, begin, end, mine, f"{seed}/{index}"))
    return result
