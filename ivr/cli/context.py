"""The app of one command line command, in an app context: the one helper every command group uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from .. import create_app


@contextmanager
def app_context() -> Iterator[Flask]:
    """The app for one command, in an app context; its database connections are closed afterwards."""
    app = create_app(require_token=False)
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["ivr.db"].engine.dispose()
