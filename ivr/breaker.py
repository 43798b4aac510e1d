"""After the database fails a webhook, the process's next webhooks answer without it for a moment, then one
probe tries it again: a dead or hung database costs one wait per `retry_seconds`, not one per request."""

from __future__ import annotations

import threading
import time


class Breaker:
    """Closed (webhooks use the database), open (they do not, until `retry_seconds` pass), then half-open:
    one request probes the database while the others still answer without it."""

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probing = False

    def admit(self) -> str:
        """ "use" the database, "probe" it (open and due: the first asker), or "skip" it."""
        with self._lock:
            if self._open_until is None:
                return "use"
            if self._probing or time.monotonic() < self._open_until:
                return "skip"
            self._probing = True
            return "probe"

    def unprobed(self) -> None:
        """The probe ended without using the database: the next webhook probes instead."""
        with self._lock:
            self._probing = False

    def trip(self) -> None:
        """The database failed a webhook: answer without it for `retry_seconds`."""
        with self._lock:
            self._open_until = time.monotonic() + self.retry_seconds
            self._probing = False

    def succeed(self) -> None:
        """A webhook used the database and it answered: close."""
        with self._lock:
            self._open_until = None
            self._probing = False

    @property
    def is_open(self) -> bool:
        """Whether webhooks answer without the database now (open or probing)."""
        with self._lock:
            return self._open_until is not None
