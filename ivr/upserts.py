"""ON CONFLICT statements compiled once per dialect: SQLAlchemy gives the dialects' `insert()` with
on_conflict_* no cache key, so run as they are they would be compiled again on every execution."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from .db import connection_of

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
    dialect = DIALECTS[dialect_name]
    compiled = spec.build(dialect).compile(dialect=dialect.dialect(paramstyle="named"))
    binds = []
    for param, name in compiled.bind_names.items():
        if param.callable is not None:  # a Python-side default such as utcnow: give the column a value
            raise ValueError(f"{name}: a bind computed at execution cannot be compiled once; pass it")
        if param.required:
            binds.append(bindparam(name, type_=param.type))
        else:
            binds.append(bindparam(name, param.value, type_=param.type))
    # text() would read PostgreSQL's `:name::TYPE` casts as part of the name: escaped, they stay casts
    built = text(compiled.string.replace("::", r"\:\:")).bindparams(*binds)
    statement = built.columns(*spec.returning) if spec.returning else built
    _FIXED[statement] = frozenset(b.key for b in binds if not b.required)  # type: ignore[index]
    return statement  # type: ignore[return-value]


_FIXED: dict[TextClause, frozenset[str]] = {}  # per compiled statement: the names of its fixed values
