"""Turns at a SQLite file's webhook writes across processes (an flock on `<database>-writer`): they only order
the writes, SQLite's locking keeps them correct; docs/operations.md, "SQLite writes take turns"."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

log = logging.getLogger(__name__)
SUFFIX: Final = "-writer"  # the lock file: the database's path with this appended (like SQLite's -wal, -shm)
FIRST_PAUSE: Final = 20e-6  # seconds between the first tries at a lock another process holds
LONGEST_PAUSE: Final = 0.5e-3  # the pause doubles up to this


class WriterLock:
    """One database's writer lock in this process: a thread lock in front of one flock'ed descriptor.

    flock belongs to an open file description, which the threads of a process share: the thread lock makes
    them take turns too. A forked child opens the file again (a shared description would lock for both).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = -1

    def acquire(self, wait: float) -> bool:
        """Hold the lock, waiting at most `wait` seconds (tries and short sleeps: a blocking flock could
        not be given up at a deadline); False when it was not taken (the caller goes on without it)."""
        until = time.monotonic() + wait
        if not self._threads.acquire(timeout=max(0.0, wait)):
            return False
        try:
            fd = self._descriptor()
            if fd is not None and _flock(fd, until):
                return True
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def release(self) -> None:
        """Let the next writer in (only after `acquire` returned True)."""
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _descriptor(self) -> int | None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                self._fd = _open(self.path)
            except OSError as error:  # a read-only folder, say: SQLite's locking alone then
                log.warning(
                    "no writer lock %s (%s): writes take turns in SQLite's busy handler", self.path, error
                )
                self._fd = None
        return self._fd

    def _forked(self) -> None:
        # in the child: the parent's threads are gone (a thread lock they held would never be released) and
        # the descriptor is the parent's open file description (_descriptor opens a new one)
        self._threads = threading.Lock()
        if self._fd is not None:
            os.close(self._fd)  # this process's copy only: the parent's turn, if it holds one, stays its own
        self._fd = None
        self._pid = -1


def _open(path: str) -> int:
    """The lock file opened for flock: made if missing, read-only when another user made it."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # flock needs no write access


def _flock(fd: int, until: float) -> bool:
    """Take the flock on `fd`, trying until the monotonic time `until`."""
    pause = FIRST_PAUSE
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        except OSError:  # a file system without locks: as if there were no lock file
            return False
        left = until - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE)


_locks: dict[str, WriterLock] = {}  # by the lock file's path: one per database in this process
_registry = threading.Lock()


def for_sqlite(database: str | None, query: Mapping[str, Any] | None = None) -> WriterLock | None:
    """The writer lock of a SQLite database given as its URL's database part and query; None in memory."""
    if (query or {}).get("mode") == "memory" or not database:
        return None
    if database.startswith("file:"):  # a URI filename (?uri=true)
        database = database.removeprefix("file:").split("?", 1)[0]
    if not database or database == ":memory:":
        return None
    path = os.path.abspath(database) + SUFFIX
    with _registry:
        found = _locks.get(path)
        if found is None:
            found = _locks[path] = WriterLock(path)
        return found


def _after_fork() -> None:
    global _registry
    _registry = threading.Lock()
    for lock in _locks.values():
        lock._forked()


os.register_at_fork(after_in_child=_after_fork)
