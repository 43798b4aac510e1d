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

from ..db import Base, Database
from ..engine import Bundle, Site
from ..models import Call, CallEvent, SiteVersion
from .clock import VirtualClock

IN_MEMORY = "sqlite://"
# Apps are built one at a time: Werkzeug compiles each URL rule through the ast module, and on CPython 3.11
# two threads doing that at once can fail ("AST constructor recursion depth mismatch", CPython gh-106905).
BUILDING = threading.Lock()
LogRows = list[tuple[int, str, str | None, dict[str, Any]]]
_threads = threading.local()  # each thread's throwaway app: a try uses it from start to end in one thread


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

    Each try gets a new in-memory database (its tables made from the models, the bundle its only version):
    concurrent tries never share rows, and the call, its events, status callbacks and effects (an opt-out)
    vanish when its engine is disposed of. The app around it is this thread's, built once (building one per
    try cost some 20 ms, and each left its flow store's session listeners behind).
    The reader gives (id, kind, node, data) of a call's log entries after a given id, oldest first.
    """
    app, token = _thread_app()
    database = Database(IN_MEMORY)
    try:
        Base.metadata.create_all(database.engine)
        with database.sessionmaker() as s:
            row = SiteVersion(digest=bundle.digest(), bundle=bundle.as_json(), source="try", note="a try")
            s.add(row)
            s.commit()
            served = Served(row.id, row.digest, site)
        app.extensions["ivr.db"] = database
        app.extensions["ivr.flows"] = BundleStore(served)
        app.config["IVR_CLOCK"] = clock.now

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
        app.extensions.pop("ivr.db", None)
        app.extensions.pop("ivr.flows", None)
        database.engine.dispose()


def _thread_app() -> tuple[Flask, str]:
    """This thread's throwaway app and the token it checks signatures with (built on first use)."""
    found: tuple[Flask, str] | None = getattr(_threads, "app", None)
    if found is None:
        token = secrets.token_hex(16)
        with BUILDING:
            app = _build(token)
        app.extensions["ivr.db"].engine.dispose()  # each try brings its own database
        found = _threads.app = (app, token)
    return found


def _build(token: str) -> Flask:
    """An app on an in-memory database, checking signatures with `token`."""
    from .. import create_app

    return create_app(
        {
            "DATABASE_URL": IN_MEMORY,
            "TWILIO_AUTH_TOKEN": token,
            "TWILIO_ACCOUNT_SID": "",
            "SECRET_KEY": secrets.token_hex(16),
            "PUBLIC_BASE_URL": "",
            "PROXY_FIX_HOPS": 0,
            "SIMULATED_TIME": False,
            "FLOWS_WATCH": False,
            "TESTING": False,
        }
    )
