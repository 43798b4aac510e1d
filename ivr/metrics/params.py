"""What a comparison is asked for, read the same way by the command line and the API (pure).
Its period is read by ivr.calls.periods, the one parser of dates and periods."""

from __future__ import annotations


def desk_pair(text: str | None) -> tuple[str, str]:
    """Two desk names from "A,B"; ValueError unless there are exactly two different ones."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if len(names) != 2:
        raise ValueError(f"desks: give exactly two desk names separated by a comma, e.g. desks=local,bpo "
                         f"(got {text!r})")  # fmt: skip
    if names[0] == names[1]:
        raise ValueError(f"desks: give two different desks, not {names[0]!r} twice")
    return names[0], names[1]
