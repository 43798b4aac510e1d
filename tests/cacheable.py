"""Which statements SQLAlchemy had to compile without a cache key (the dialects' ON CONFLICT constructs have
none): recorded while a test drives a feature, each with the ivr code that ran it; and the module-level
statements of a package, checked one by one."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.sql.base import Executable

from ivr.calls.driver import Run
from ivr.db import InsertOrSkip
from ivr.upserts import Compiled

IVR = Path(__file__).resolve().parent.parent / "ivr"
# where a statement is run, not where it is written
HELPERS = {IVR / "db.py", IVR / "upserts.py", IVR / "calls" / "driver.py"}


@dataclass
class Executed:
    """One statement sent, where in ivr it was run from, and whether it had a cache key."""

    where: str
    sql: str
    cached: bool


@dataclass
class Recording:
    """The compiled statements run while recording (raw driver SQL is left out: nothing to cache), and those
    ivr.calls.driver runs (uncached when it compiles the same SQL twice)."""

    executed: list[Executed] = field(default_factory=list)

    def uncacheable(self) -> list[Executed]:
        """The statements compiled without a cache key."""
        return [e for e in self.executed if not e.cached]

    def ran(self, words: str) -> list[Executed]:
        """The statements whose SQL has `words` (any case)."""
        return [e for e in self.executed if words in e.sql.upper()]


def _caller() -> str:
    """The innermost ivr frame outside the statement helpers, as path:line relative to ivr/."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(IVR) and path not in HELPERS:
            return f"{path.relative_to(IVR)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


@contextmanager
def recording(engine: Engine) -> Iterator[Recording]:
    """Record the compiled statements `engine` runs in the block."""
    found = Recording()

    compiled_by_driver: set[str] = set()

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if isinstance(context, Run):  # SQLite's webhook statements on the driver (ivr.calls.driver)
            # compiled once per statement object: the same SQL compiled again is a statement built anew
            # for each request, which SQLAlchemy's cache would have found by its key and the driver cannot
            cached = not (context.compiled_now and statement in compiled_by_driver)
            if context.compiled_now:
                compiled_by_driver.add(statement)
        elif context.compiled is None:
            return
        else:
            cached = context.cache_hit not in (CacheStats.NO_CACHE_KEY, CacheStats.CACHING_DISABLED)
        found.executed.append(Executed(_caller(), " ".join(statement.split()), cached))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", note)


def module_statements(package: str) -> Iterator[tuple[str, Any]]:
    """(module.name, value) for each statement or compiled-once statement at module level in a package."""
    root = importlib.import_module(package)
    names = [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(root.__path__)]
    for name in names:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if isinstance(value, Executable | InsertOrSkip | Compiled):
                yield f"{name}.{attribute}", value
            elif isinstance(value, dict) and value and all(isinstance(v, Executable) for v in value.values()):
                for key, statement in value.items():  # one statement per dialect
                    yield f"{name}.{attribute}[{key}]", statement


def statements_of(value: Any) -> Iterator[tuple[str, Any]]:
    """The statement(s) a module-level value runs: itself, or one per dialect for a compiled-once spec."""
    if isinstance(value, InsertOrSkip | Compiled):
        for dialect in ("postgresql", "sqlite"):
            yield dialect, value.statement(dialect)
    else:
        yield "any", value
