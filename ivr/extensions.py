"""Typed accessors for what the app holds for its requests and commands: the clock and the flow store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from flask import current_app

from .db import utcnow
from .engine.site import Desk
from .flows.store import FlowStore


def clock() -> datetime:
    """The current time: the app's IVR_CLOCK (tests and the simulator set one), else the wall clock."""
    source: Callable[[], datetime] = current_app.config.get("IVR_CLOCK") or utcnow
    return source()


def flows() -> FlowStore:
    """The app's flow store (the published versions of the site)."""
    found: FlowStore = current_app.extensions["ivr.flows"]
    return found


def priced_desks() -> Mapping[str, Desk]:
    """The published site's desks, whose prices give each call its cost ({} when nothing is published)."""
    published = flows().current()
    return published.site.desks if published is not None else {}
