"""At most SIGN_IN_SLOTS password checks at once per host (lock files shared by its workers); a sign-in that
finds none free is answered at once, so webhooks never queue behind sign-ins (docs/operations.md)."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def slot(folder: str, slots: int) -> Iterator[bool]:
    """Hold a free slot while the block runs (True), or run it without one (False) when all are taken."""
    for number in range(max(1, slots)):
        path = Path(folder) / f"sign_in.{number}.lock"
        try:
            file = path.open("a")
        except OSError as exc:  # a read-only instance folder: sign-ins work, only unlimited
            log.warning("sign-in slots off: cannot open %s (%s)", path, exc)
            yield True
            return
        with file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield True  # the lock is released when the file is closed, whatever the block did
            return
    yield False
