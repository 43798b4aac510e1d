"""A watch on the database: every commit and every INSERT, UPDATE or DELETE made while it is on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def writes() -> Iterator[list[str]]:
    """The commits ("COMMIT") and writing statements (CTEs that write too) of any session or engine while the
    block runs; SQLite's webhook statements on the driver too (ivr.calls.driver calls the engines'
    before_cursor_execute listeners)."""
    seen: list[str] = []

    def committed(_session: Session) -> None:
        seen.append("COMMIT")

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.upper().split()
        # PostgreSQL's one-statement steps are data-modifying CTEs: WITH ... AS (UPDATE ...) INSERT ...
        if words[:1] and (words[0] in WRITES or (words[0] == "WITH" and set(WRITES) & set(words))):
            seen.append(statement)

    event.listen(Session, "after_commit", committed)
    event.listen(Engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(Session, "after_commit", committed)
        event.remove(Engine, "before_cursor_execute", executed)
