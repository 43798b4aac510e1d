"""A call told as a story: times in the site's zone, durations with units, a summary and a quiet timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..models import Call

QUIET = frozenset({"node"})  # each event names its node already
HAND_OVER = ("queue_entered", "dial_started")
QUEUE_RESULTS = {
    "bridged": "answered",
    "hangup": "caller hung up",
    "leave": "sent on",
    "queue-full": "queue full",
}


def duration(seconds: int | float | None) -> str:
    """Seconds as people read them: '42 s', '2 min 5 s', '1 h 3 min'; '–' when unknown."""
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def local(moment: datetime | None, zone: str, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A moment in the zone, formatted; '' when there is none."""
    return moment.astimezone(ZoneInfo(zone)).strftime(pattern) if moment is not None else ""


def is_link(url: str | None) -> bool:
    """Only https: URLs become links or players (a stored value is never trusted as a scheme)."""
    return bool(url) and str(url).lower().startswith("https://")


def text(value: Any) -> str:
    """A value of an event's data in words: lists joined, mappings as 'key value', never a Python repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {text(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value)
    return str(value)


def _said(data: Mapping[str, Any]) -> str:
    parts = []
    for item in data.get("items", []):
        if item.get("text"):
            parts.append(f"“{item['text']}”")
        elif item.get("url"):
            parts.append("plays audio")
        elif item.get("seconds") is not None:
            parts.append(f"pause {item['seconds']} s")
    return " · ".join(parts)


def _words(kind: str, data: Mapping[str, Any]) -> str:
    """What an event says, in words."""
    if kind == "prompt":
        return _said(data)
    if kind == "input":
        if data.get("digits"):
            return f"pressed {data['digits']}"
        return f"said “{data['speech']}”" if data.get("speech") else "nothing"
    if kind == "menu_choice":
        return f"option {data.get('option')} (by {data.get('by')})"
    if kind == "route":
        return f"to desk {data.get('desk')}: {data.get('reason')}"
    if kind == "queue_left":
        return f"{data.get('result')} after {duration(data.get('queue_time'))}"
    if kind == "survey":
        score = data.get("score")
        return f"score {score} of {data.get('scale')}" if score is not None else text(data.get("reason"))
    if kind == "queue_wait":
        return f"position {data.get('position')}, {duration(data.get('queue_time'))} so far"
    if kind == "hours":
        return f"{data.get('schedule')}: {data.get('result')}"
    if kind == "recording":
        return f"{duration(data.get('duration'))} recorded"
    return "; ".join(
        f"{k.replace('_', ' ')}: {text(v)}" for k, v in data.items() if v not in (None, "", [], {})
    )


@dataclass
class Entry:
    """One line of the timeline (several status callbacks or queue waits folded into one)."""

    at: datetime
    kind: str
    node: str | None
    words: str
    count: int = 1
    url: str | None = None
    states: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The kind in words."""
        return self.kind.replace("_", " ")


def timeline(events: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """The events without noise: no node entries; status callbacks, queue waits and hold messages folded."""
    entries: list[Entry] = []
    waiting: Entry | None = None  # the entry of a run of queue waits, while one lasts
    for event in events:
        kind, data = event["kind"], event["data"] or {}
        if kind in QUIET:
            continue
        last = entries[-1] if entries else None
        if kind == "status":
            state = str(data.get("status", ""))
            if last is not None and last.kind == "status":
                last.states.append(state)
                last.words = " → ".join(last.states)
                continue
            entries.append(Entry(event["at"], kind, None, state, states=[state]))
            continue
        if kind == "queue_wait" and waiting is not None:
            waiting.count += 1
            waiting.words = _words(kind, data)
            continue
        if kind == "prompt" and waiting is not None and event.get("node") == waiting.node:
            if waiting.count == 1:  # the hold messages once; they come again at every wait
                entries.append(Entry(event["at"], kind, waiting.node, _words(kind, data)))
            continue
        waiting = None
        url = data.get("url") if kind == "recording" and is_link(data.get("url")) else None
        entries.append(Entry(event["at"], kind, event.get("node"), _words(kind, data), url=url))
        if kind == "queue_wait":
            waiting = entries[-1]
    return entries


def ivr_seconds(call: Call, events: Iterable[Mapping[str, Any]]) -> float | None:
    """Time in the IVR: from the start to the first hand-over to a desk (queue or dial), else to the end."""
    handed = next((e["at"] for e in events if e["kind"] in HAND_OVER), None)
    until = handed or call.ended_at
    return max((until - call.started_at).total_seconds(), 0.0) if until is not None else None
