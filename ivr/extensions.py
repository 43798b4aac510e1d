"""Typed accessors for what the app holds for its requests and commands: the clock and the flow store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, request

from .db import utcnow
from .engine.site import Desk
from .flows.store import FlowStore


def clock() -> datetime:
    """The current time: a signed simulator request's own, the app's IVR_CLOCK, else the wall clock.

    A webhook carries its own time only from `ivr simulate --at` (voice/security.py simulated_time).
    """
    simulated: datetime | None = g.get("simulated_now")
    if simulated is not None:
        return simulated
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


def allow_larger_bodies(blueprint: Blueprint, limit: int) -> None:
    """Let the blueprint's routes take requests up to `limit` bytes (forms too) instead of
    MAX_CONTENT_LENGTH; set as a URL value preprocessor, which runs before any before_request (the CSRF
    check reads the form)."""

    def larger(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
        request.max_content_length = limit
        request.max_form_memory_size = limit

    blueprint.url_value_preprocessor(larger)
