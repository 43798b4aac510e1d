"""Twilio's request parameters read one way everywhere: a whole number fitting a database integer, or None."""

from __future__ import annotations


def int_param(value: str | None) -> int | None:
    """A whole-number parameter that fits a database integer (0 to 2**31 - 1), else None."""
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 2**31 else None
