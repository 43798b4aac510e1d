"""At most SIGN_IN_SLOTS password checks at once per host (lock files shared by its workers); a sign-in that
finds none free is answered at once, so webhooks never queue behind sign-ins (docs/operations.md)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def slot(folder: str, slots: int) -> Iterator[bool]:
    """Hold a free slot while the block runs (True), or run it without one (False) when all are taken."""
    for number in range(max(1, slots)):
        with (Path(folder) / f"sign_in.{number}.lock").open("a") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield True  # the lock is released when the file is closed, whatever the block did
            return
    yield False
