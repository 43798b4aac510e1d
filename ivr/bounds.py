"""Input bounded before the database or a parser sees it: whole numbers within what an id column holds (too
big is "no such row" or a 400, never a driver's overflow), JSON nested at most JSON_DEPTH levels. Pure."""

from __future__ import annotations

import json
from typing import Any

INT_MAX = 2**31 - 1  # INTEGER on PostgreSQL: the id columns of small tables (campaigns, site versions...)
BIGINT_MAX = 2**63 - 1  # BIGINT on PostgreSQL, and SQLite's INTEGER: the id columns of large tables
PAGE_MAX = INT_MAX  # pages of at most 500 rows: the offset stays far below BIGINT_MAX
JSON_DEPTH = 64  # nesting a JSON body may have: flows and settings need a handful of levels


def whole(text: str | None, least: int = 0, most: int = INT_MAX) -> int | None:
    """`text` (ASCII digits, spaces around allowed) as a number from `least` to `most`, else None."""
    value = (text or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(most)):
        return None  # isascii: '²'.isdigit() is true, yet int('²') fails
    number = int(value)
    return number if least <= number <= most else None


def in_range(value: object, least: int = 0, most: int = INT_MAX) -> bool:
    """Whether a value from a JSON body is a whole number (not a bool) from `least` to `most`."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (0 for a scalar), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in children)
    return deepest


def loads_json(data: str | bytes, depth: int = JSON_DEPTH) -> Any:
    """JSON text parsed; ValueError when it is not JSON or nests deeper than `depth` levels."""
    too_deep = f"arrays and objects nest deeper than {depth} levels"
    try:
        value = json.loads(data)
    except RecursionError:  # deeper than the interpreter's stack: the parse unwound, nothing is left over
        raise ValueError(too_deep) from None
    if json_depth(value) > depth:
        raise ValueError(too_deep)
    return value
