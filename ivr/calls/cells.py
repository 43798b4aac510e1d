"""CSV cells a spreadsheet cannot run: text that starts like a formula gets a leading apostrophe (OWASP's
"CSV injection" advice). Every CSV export writes its rows through `safe_row`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# `+` is left alone on purpose: every E.164 number starts with it (and a number is no formula by itself)
FORMULA_STARTS = ("=", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, or text starting like a formula with an apostrophe in front; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for csv.DictWriter with every cell made safe."""
    return {name: safe_cell(value) for name, value in row.items()}
