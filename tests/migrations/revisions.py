"""The test database taken down to an older revision for a migration test, and back up to head after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from ivr.migrations.runner import downgrade, upgrade


@contextmanager
def at_revision(app: Flask, database_url: str, revision: str) -> Iterator[str]:
    """The (emptied) database at `revision` (its URL), brought back to head when the block ends."""
    app.extensions["ivr.db"].engine.dispose()
    downgrade(database_url, revision)
    try:
        yield database_url
    finally:
        upgrade(database_url)
