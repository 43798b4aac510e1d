"""A throwaway app for one try: the real webhooks, on a private in-memory database that serves one bundle;
it never opens the real database, and everything it wrote goes when the try ends (docs/flows.md, "Try it")."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select

from ..db import Base
from ..engine import Bundle, Site
from ..models import Call, CallEvent, SiteVersion
from .clock import VirtualClock

IN_MEMORY = "sqlite://"
# Apps are built one at a time: Werkzeug compiles each URL rule through the ast module, and on CPython 3.11
# two threads doing that at once can fail ("AST constructor recursion depth mismatch", CPython gh-106905).
BUILDING = threading.Lock()
LogRows = list[tuple[int, str, str | None, dict[str, Any]]]


@dataclass(frozen=True)
class Served:
    """The one version a throwaway app serves (what voice reads of a published version)."""

    id: int
    digest: str
    site: Site


class BundleStore:
    """Stands in for the flow store: every call starts on, and is pinned to, the bundle tried."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.problems: list[object] = []

    def current(self) -> Served:
        """The version new calls start on."""
        return self.served

    def published(self) -> Served:
        """The version new calls start on."""
        return self.served

    def get(self, version_id: int) -> Served | None:
        """The version with this id (there is only one)."""
        return self.served if version_id == self.served.id else None

    def site_for_fallback(self) -> Site:
        """The site whose fallback a failed step answers."""
        return self.served.site


@contextmanager
def sandbox(bundle: Bundle, site: Site, clock: VirtualClock) -> Iterator[tuple[Flask, str, Any]]:
    """A throwaway app serving `bundle` at `clock`'s time, its auth token, and a reader of its call log.

    One app and one in-memory engine per try (some 20 ms to build): concurrent tries never share rows, and
    the call, its events, status callbacks and effects (an opt-out) vanish when the engine is disposed of.
    The reader gives (id, kind, node, data) of a call's log entries after a given id, oldest first.
    """
    token = secrets.token_hex(16)
    with BUILDING:
        app = _build(token, clock)
    database = app.extensions["ivr.db"]
    try:
        Base.metadata.create_all(database.engine)
        with database.sessionmaker() as s:
            row = SiteVersion(digest=bundle.digest(), bundle=bundle.as_json(), source="try", note="a try")
            s.add(row)
            s.commit()
            app.extensions["ivr.flows"] = BundleStore(Served(row.id, row.digest, site))

        def read_log(call_sid: str, after: int) -> LogRows:
            with database.sessionmaker() as s:
                rows = s.execute(
                    select(CallEvent.id, CallEvent.kind, CallEvent.node, CallEvent.data)
                    .join(Call, Call.id == CallEvent.call_id)
                    .where(Call.call_sid == call_sid, CallEvent.id > after)
                    .order_by(CallEvent.id)
                )
                return [(r.id, r.kind, r.node, dict(r.data or {})) for r in rows]

        yield app, token, read_log
    finally:
        database.engine.dispose()


def _build(token: str, clock: VirtualClock) -> Flask:
    """An app with its own in-memory database, checking signatures with `token`, reading `clock`."""
    from .. import create_app

    return create_app(
        {
            "DATABASE_URL": IN_MEMORY,
            "TWILIO_AUTH_TOKEN": token,
            "TWILIO_ACCOUNT_SID": "",
            "SECRET_KEY": secrets.token_hex(16),
            "IVR_CLOCK": clock.now,
            "PUBLIC_BASE_URL": "",
            "PROXY_FIX_HOPS": 0,
            "SIMULATED_TIME": False,
            "FLOWS_WATCH": False,
            "TESTING": False,
        }
    )
