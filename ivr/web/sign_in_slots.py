"""Password checks take a slot: at most SIGN_IN_SLOTS of them run at once on a host (a lock file each in the
instance folder, shared by every gunicorn worker there). A sign-in that finds every slot taken is answered at
once instead of waiting, so sign-ins never hold more than that many workers and webhooks never queue behind
them (docs/operations.md, "Sign-ins and webhooks")."""

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
