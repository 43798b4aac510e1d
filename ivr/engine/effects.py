"""What a step changes beyond the flow: typed updates of the call's row, and named effects for planners."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar


class Unchanged(Enum):
    """The value of a CallUpdates field the step leaves as it is (None clears a column)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


def changed_fields(updates: Any) -> dict[str, Any]:
    """The fields of a dataclass of updates that are set, by column name (mappings as plain dicts)."""
    values = {f.name: getattr(updates, f.name) for f in fields(updates)}
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items() if v is not UNCHANGED}


@dataclass(frozen=True, repr=False)
class CallUpdates:
    """The columns of the call's row a step sets; each field is named after its column."""

    desk: str | Unchanged = UNCHANGED
    overflow_from: str | Unchanged = UNCHANGED
    path: str | Unchanged = UNCHANGED
    route_strategy: str | Unchanged = UNCHANGED
    assignment: str | Unchanged = UNCHANGED
    segment: str | Unchanged = UNCHANGED
    queued_at: datetime | Unchanged = UNCHANGED
    queue_result: str | None | Unchanged = UNCHANGED
    queue_time: int | None | Unchanged = UNCHANGED
    talk_time: int | None | Unchanged = UNCHANGED
    survey_score: int | Unchanged = UNCHANGED
    recording_url: str | Unchanged = UNCHANGED
    recording_duration: int | Unchanged = UNCHANGED

    def changed(self) -> dict[str, Any]:
        """The fields that are set, by column name."""
        return changed_fields(self)

    def then(self, later: CallUpdates) -> CallUpdates:
        """These updates followed by `later`: a field set in both takes the later value."""
        return replace(self, **later.changed())

    def __repr__(self) -> str:
        changed = ", ".join(f"{name}={value!r}" for name, value in self.changed().items())
        return f"CallUpdates({changed})"


@dataclass(frozen=True)
class Effect:
    """Something a step asks of a part of ivr outside the call log; `name` is its timeline event's kind."""

    name: ClassVar[str]


@dataclass(frozen=True)
class AddToDoNotCall(Effect):
    """Put the other party of the call on the do-not-call list (To on an outbound call, else From)."""

    name: ClassVar[str] = "do_not_call"
