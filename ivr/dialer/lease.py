"""Leases: which attempts a worker has in flight, so that recovery never takes one from a live worker.
Advisory locks on PostgreSQL; on SQLite one worker, held by a file lock (docs/dialer.md)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

KEY_BASE = 0x49565244 << 32  # "IVRD": advisory lock keys of the dialer's attempts


class Leases:
    """The attempts this worker holds."""

    def __init__(self, engine: Engine) -> None:
        self.own: set[int] = set()
        self.mutex = threading.Lock()
        self.conn: Connection | None = None
        if engine.dialect.name == "postgresql":
            self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def hold(self, attempt_id: int) -> bool:
        """Take the lease of an attempt; False when this or another live worker holds it."""
        with self.mutex:
            if attempt_id in self.own:
                return False
            if self.conn is not None:
                taken = self.conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": KEY_BASE + attempt_id}
                )
                if not taken.scalar():
                    return False
            self.own.add(attempt_id)
            return True

    def release(self, attempt_id: int) -> None:
        """Give an attempt's lease back (its outcome is committed, or it was deleted)."""
        with self.mutex:
            if attempt_id not in self.own:
                return
            self.own.discard(attempt_id)
            if self.conn is not None:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": KEY_BASE + attempt_id})

    def held(self) -> int:
        """How many attempts this worker holds."""
        with self.mutex:
            return len(self.own)

    def close(self) -> None:
        """Give every lease back."""
        with self.mutex:
            self.own.clear()
            if self.conn is not None:
                self.conn.execute(
                    text("SELECT pg_advisory_unlock_all()")
                )  # the connection goes back to a pool
                self.conn.close()
                self.conn = None


class AnotherWorker(RuntimeError):
    """A dialer worker already runs on this SQLite database."""


@contextmanager
def only_worker(engine: Engine) -> Iterator[None]:
    """On a SQLite file: hold its dialer lock file while the block runs (AnotherWorker when taken)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = f"{database}.dialer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnotherWorker(
                f"another dialer worker runs on this SQLite database (it holds {path}); "
                "run only one on SQLite, or use PostgreSQL"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing it releases the lock
