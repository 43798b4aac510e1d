"""ON CONFLICT statements compiled once per dialect: SQLAlchemy gives the dialects' `insert()` with
on_conflict_* no cache key, so run as they are they would be compiled again on every execution."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from .db import compiled_text, connection_of

DIALECTS: dict[str, ModuleType] = {"postgresql": postgresql, "sqlite": sqlite}


@dataclass(frozen=True)
class Compiled:
    """A statement `build` makes from a dialect module (`postgresql` or `sqlite`: its `insert()` with
    on_conflict_*), compiled once per dialect into a cacheable `text()` whose binds keep their types.

    Every bind of the construct must be a named `bindparam` given at execution or carry a fixed value;
    `returning` names the columns of its RETURNING, typed, so their values come back as the columns' types.
    """

    build: Callable[[ModuleType], Insert]
    returning: tuple[ColumnElement[Any], ...] = ()

    def statement(self, dialect_name: str) -> TextClause:
        """The statement for a dialect ('postgresql' or 'sqlite'), compiled on first use."""
        return _compiled(self, dialect_name)

    def execute(
        self, bind: Session | Connection, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any]:
        """Run it with one row of values, or many (executemany: no RETURNING then)."""
        connection = connection_of(bind)
        params: Any = dict(values) if isinstance(values, Mapping) else [dict(v) for v in values]
        statement = self.statement(connection.dialect.name)
        given = set(params) if isinstance(params, dict) else set().union(*params)
        clashes = given & _FIXED[statement]
        if clashes:  # the value would silently replace one the construct fixed
            raise ValueError(f"{sorted(clashes)}: names of values fixed in the statement; rename the bind")
        return connection.execute(statement, params)


@cache
def _compiled(spec: Compiled, dialect_name: str) -> TextClause:
    sql, binds = compiled_text(spec.build(DIALECTS[dialect_name]), dialect_name)
    built = text(sql).bindparams(*binds)
    statement = built.columns(*spec.returning) if spec.returning else built
    _FIXED[statement] = frozenset(b.key for b in binds if not b.required)  # type: ignore[index]
    return statement  # type: ignore[return-value]


_FIXED: dict[TextClause, frozenset[str]] = {}  # per compiled statement: the names of its fixed values
