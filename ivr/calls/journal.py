"""The local journal of webhooks answered without the database: JSON lines, fsync'd, bounded, safe for
several processes (O_APPEND + flock), renamed aside for a replay (docs/call-log.md, "Nothing lost")."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def new_record_id() -> str:
    """A record's id: what makes replaying it twice add nothing twice."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Status:
    """What the journal holds now."""

    path: Path
    records: int  # waiting to be replayed, in both files
    bytes: int
    max_bytes: int
    dropped: int  # records not written because the journal was full
    failed: int  # records a replay could not apply (kept in <path>.failed)


REPLAYING = ".replaying"  # the companion holding the records a replay took


@dataclass(frozen=True)
class Journal:
    """One journal file and its companions (.replaying, .dropped, .failed, .lock)."""

    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES

    def companion(self, suffix: str) -> Path:
        """The file next to the journal with this suffix."""
        return self.path.with_name(self.path.name + suffix)

    @property
    def replaying(self) -> Path:
        """The records a replay took (renamed away from the journal, so appends never touch them)."""
        return self.companion(REPLAYING)

    def append(self, record: dict[str, Any]) -> bool:
        """Write one record durably (fsync'd); False, logged (and counted when full) when it cannot be
        written: a caller is answered whether or not the journal can keep the record."""
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        try:
            return self._append(line)
        except OSError as error:  # disk full, read-only, a wrong JOURNAL_PATH
            log.error("JOURNAL UNWRITABLE: %s: %s; record dropped", self.path, error)
            return False

    def _append(self, line: bytes) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _same_file(fd, self.path):  # a replay renamed it meanwhile: write to the new one
                    continue
                size = os.fstat(fd).st_size
                if size + len(line) > self.max_bytes:
                    self._count_drop(size)
                    return False
                os.write(fd, line)  # O_APPEND: one write, at the end, whatever the other processes do
                os.fsync(fd)
                if size == 0:  # a new file: its directory entry must survive a crash too
                    _fsync_directory(self.path.parent)
                return True
            finally:
                os.close(fd)  # releases the lock

    def _count_drop(self, size: int) -> None:
        fd = os.open(self.companion(".dropped"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"\n")
            dropped = os.fstat(fd).st_size
        finally:
            os.close(fd)
        log.error(
            "JOURNAL FULL: %s holds %s bytes (JOURNAL_MAX_BYTES %s); record dropped, %s dropped so far. "
            "Bring the database back and run `ivr journal replay`, or raise JOURNAL_MAX_BYTES.",
            self.path, size, self.max_bytes, dropped,
        )  # fmt: skip

    def pending(self) -> bool:
        """Whether records wait to be replayed (two stat calls; webhooks ask at most every
        JOURNAL_CHECK_SECONDS); False when the journal's folder cannot be read (appends log that loudly)."""
        try:
            return _size(self.path) > 0 or os.path.exists(f"{self.path}{REPLAYING}")  # not pathlib: hot
        except OSError:
            return False

    @contextmanager
    def replay_lock(self) -> Iterator[bool]:
        """Hold the replay lock if no other process does; yields False (at once) when one does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.companion(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def take(self) -> Path | None:
        """Move the journal's records aside for a replay (hold the replay lock): the file to replay, or
        None when nothing waits. Records of an unfinished replay are taken first, the journal's next time."""
        if self.replaying.exists():
            return self.replaying
        if _size(self.path) == 0:
            return None
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # no append is half done while the file is renamed
            os.replace(self.path, self.replaying)
        finally:
            os.close(fd)
        return self.replaying

    def done(self, taken: Path) -> None:
        """Forget records a replay has applied (each is in the journal_replays table by now)."""
        taken.unlink(missing_ok=True)

    def set_aside(self, record: dict[str, Any]) -> None:
        """Keep a record a replay could not apply in <path>.failed, for a person to look at."""
        with self.companion(".failed").open("a", encoding="utf-8") as file:
            file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")

    def status(self) -> Status:
        """Records waiting, bytes, drops and failures."""
        records = sum(1 for _ in read(self.replaying)) + sum(1 for _ in read(self.path))
        return Status(
            self.path,
            records,
            _size(self.path) + _size(self.replaying),
            self.max_bytes,
            _size(self.companion(".dropped")),
            sum(1 for _ in read(self.companion(".failed"))),
        )


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a journal file in order; a torn last line (a crash mid-write) is skipped."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        for number, line in enumerate(file, 1):
            try:
                record = json.loads(line)
            except ValueError:
                log.error("journal %s line %s is not a whole record: skipped", path, number)
                continue
            if isinstance(record, dict):
                yield record


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size  # not Path.stat: every webhook asks (pending), pathlib's wrapping shows
    except FileNotFoundError:
        return 0


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
