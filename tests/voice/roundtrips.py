"""Counting what a webhook costs the database: round trips to PostgreSQL and pool checkouts, per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _idle(dbapi_connection: Any) -> bool:
    """Whether a psycopg connection has no transaction open (its BEGIN is still to be sent); SQLite's
    transactions are local calls: only its statements are counted."""
    if not hasattr(dbapi_connection, "pgconn"):
        return True
    return int(dbapi_connection.info.transaction_status) == 0  # psycopg.pq.TransactionStatus.IDLE


@dataclass
class RoundTrips:
    """Round trips to PostgreSQL: each statement, the BEGIN psycopg sends before a transaction's first one,
    and each COMMIT or ROLLBACK of an open transaction (by a Connection or by the pool's reset)."""

    engine: Engine
    trips: int = 0
    checkouts: int = 0
    statements: list[str] | None = None

    def _execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        if hasattr(dbapi, "pgconn") and not dbapi.autocommit and _idle(dbapi):
            self.trips += 1  # BEGIN
        self.trips += 1
        if self.statements is not None:
            self.statements.append(statement[:150])

    def _end(self, conn: Any) -> None:
        if not _idle(conn.connection.dbapi_connection):
            self.trips += 1

    def _reset(self, dbapi: Any, *_args: Any) -> None:
        if not _idle(dbapi):
            self.trips += 1

    def _checkout(self, *_args: Any) -> None:
        self.checkouts += 1

    @contextmanager
    def counting(self) -> Iterator[RoundTrips]:
        """Count while inside (from zero)."""
        self.trips = self.checkouts = 0
        self.statements = []
        hooks = [
            ("before_cursor_execute", self._execute),
            ("commit", self._end),
            ("rollback", self._end),
            ("reset", self._reset),
            ("checkout", self._checkout),
        ]
        for name, fn in hooks:
            event.listen(self.engine, name, fn)
        try:
            yield self
        finally:
            for name, fn in hooks:
                event.remove(self.engine, name, fn)
