"""A deadline on every webhook: whatever the database does (refuses, hangs, is locked), the webhook answers
valid TwiML, the failure is DatabaseUnavailable, and a connection cut mid-read never goes back to the pool.

No test times a request: a thread's join(HANG) only turns a webhook that would hang for ever into a failure.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select, text

from ivr import create_app, deadline
from ivr.cli.main import main
from ivr.cli.serve import GUNICORN_TIMEOUTS
from ivr.config import from_environment
from ivr.db import DatabaseUnavailable, session
from ivr.models import Call

from .conftest import PG_URL, ROOT
from .helpers import call_row
from .tcp_proxy import Proxy
from .twilio import TwilioClient, new_sid, one, parse, xpath

HANG = 60  # seconds: far above every deadline here, only so that a hang fails instead of blocking the suite


def postgresql_only(test: Any) -> Any:
    """Run on PostgreSQL only: a TCP proxy needs a server."""
    on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)(test)
    return pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IVR_TEST_POSTGRES_URL)")(on_postgresql)


def in_thread(work: Any) -> Any:
    """Run work() in a thread; its result, or a failure if it is still running after HANG seconds."""
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(work()), daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"still waiting after {HANG} s"
    return found[0]


ANSWERED_WITHOUT = "answered without the database: "


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Why the voice webhooks answered steps without the database, as logged ("Exception: message")."""
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("ivr.voice")]
    return [m.split(ANSWERED_WITHOUT, 1)[1] for m in messages if ANSWERED_WITHOUT in m]


def is_the_fallback(root: Any) -> bool:
    """Whether a TwiML document is the sample site's fallback: an apology, then the local desk's queue."""
    return bool(xpath(root, "/Response/Say")) and one(root, "/Response/Enqueue/text()") == "local-desk"


@pytest.fixture
def proxy(config: dict[str, Any], database_url: str) -> Any:
    """A TCP proxy in front of the test PostgreSQL server; the app (asked for later) connects through it."""
    parts = urlsplit(database_url)
    with Proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as running:
        address = (
            f"{parts.username}@127.0.0.1:{running.port}" if parts.username else f"127.0.0.1:{running.port}"
        )
        config["DATABASE_URL"] = urlunsplit(parts._replace(netloc=address))
        config["WEBHOOK_DEADLINE_SECONDS"] = 1
        yield running


@postgresql_only
def test_a_server_that_stops_replying_mid_call_gets_the_fallback_and_loses_the_connection(
    proxy, app, call, session, caplog
):
    database = app.extensions["ivr.db"]
    with ThreadPoolExecutor(1) as worker:  # one thread serves every request, as a sync worker does

        def served(work: Any) -> Any:
            return worker.submit(work).result(HANG)

        menu = served(call.start)  # through the proxy: the worker holds a connection, knows the version
        held = served(database.held_connection)
        cut = held.connection.dbapi_connection
        proxy.hold()
        answer = served(lambda: call.press(menu, "1"))
        assert is_the_fallback(answer)  # the site's fallback, from the version in memory
        assert any(why.startswith(f"{DatabaseUnavailable.__name__}: ") for why in failures(caplog))
        assert isinstance(cut, psycopg.Connection) and cut.closed, "the connection cut mid-read is still open"
        assert served(database.held_connection) is None  # the worker let it go
        assert database.engine.pool.checkedout() == 0

        proxy.resume()  # the server answers again: the next webhook opens a new connection and goes on
        app.config["WEBHOOK_DEADLINE_SECONDS"] = (
            10  # read per request: room for a new connection on a busy host
        )
        assert not is_the_fallback(served(lambda: call.press(menu, "1")))
        assert served(database.held_connection) not in (None, held)
    assert call_row(session, call.sid).node != "language"


@postgresql_only
def test_a_deadline_passing_after_the_last_statement_leaves_the_next_request_a_working_connection(
    app, call, monkeypatch
):
    """The watchdog cuts the held connection at the deadline even when the request has stored its step
    already (it answers normally); the worker's next request must open a new connection, not fail."""
    from ivr.voice import journal_replay

    database = app.extensions["ivr.db"]
    with ThreadPoolExecutor(1) as worker:  # one thread serves every request, as a sync worker does

        def served(work: Any) -> Any:
            return worker.submit(work).result(HANG)

        menu = served(call.start)
        app.config["WEBHOOK_DEADLINE_SECONDS"] = 0.3
        replay_check = journal_replay.start_if_pending  # it runs after the step's statements
        monkeypatch.setattr(journal_replay, "start_if_pending", lambda: time.sleep(0.8))
        assert not is_the_fallback(served(lambda: call.press(menu, "1")))  # stored before the deadline
        monkeypatch.setattr(journal_replay, "start_if_pending", replay_check)
        app.config["WEBHOOK_DEADLINE_SECONDS"] = 10
        assert served(database.held_connection) is None  # the cut connection was let go
        assert not is_the_fallback(served(lambda: call.press(menu, "1")))


@pytest.fixture
def time_for_two_attempts(proxy: Proxy, config: dict[str, Any]) -> None:
    """A deadline longer than two connection attempts (2 s each)."""
    config["WEBHOOK_DEADLINE_SECONDS"] = 5


@postgresql_only
def test_a_server_that_accepts_and_never_answers_gets_the_fallback(
    proxy, time_for_two_attempts, app, twilio, caplog
):
    proxy.hold()  # nothing is connected yet: the connection attempt itself hangs
    sid = new_sid()
    answer = in_thread(lambda: parse(twilio.post("/voice/incoming", twilio.call_params(sid))))
    assert is_the_fallback(answer)  # the folder's fallback: this process never read a version
    assert any(why.startswith(f"{DatabaseUnavailable.__name__}: ") for why in failures(caplog))
    assert proxy.accepted == 1  # once the database failed, the request never tries it again


@pytest.fixture
def short_locks(config: dict[str, Any]) -> None:
    """Lock waits of a fifth of a second in webhooks, so the test does not wait long."""
    config["WEBHOOK_LOCK_TIMEOUT_SECONDS"] = 0.2
    config["WEBHOOK_DEADLINE_SECONDS"] = 1


def hold_write_lock(app: Flask) -> Any:
    """A connection of its own that holds what a step writes: SQLite's write lock, PostgreSQL's calls
    table; closed (and the lock let go) by the caller."""
    engine = app.extensions["ivr.db"].engine
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(engine.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        return holder
    holder = psycopg.connect(PG_URL)
    holder.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
    return holder


def test_a_webhook_waits_for_a_held_lock_only_briefly_then_answers_the_fallback(
    short_locks, app, call, session, caplog
):
    menu = call.start()
    holder = hold_write_lock(app)
    try:
        answer = in_thread(lambda: call.press(menu, "1"))
    finally:
        holder.close()
    assert is_the_fallback(answer)
    causes = ("OperationalError: database is locked", "LockNotAvailable: ")  # SQLite's, PostgreSQL's
    whys = failures(caplog)
    assert any(why.startswith(f"DatabaseUnavailable: {cause}") for why in whys for cause in causes), whys
    assert call_row(session, call.sid).node == "language"  # the failed step changed nothing
    app.config["WEBHOOK_DEADLINE_SECONDS"] = 10  # read per request: room on a busy host
    again = call.press(menu, "1")  # the lock is gone: the call goes on
    assert not is_the_fallback(again)


def test_past_the_deadline_no_statement_reaches_the_database(app):
    with app.app_context():
        late = deadline.begin(0.01)
        try:
            for _ in range(500):  # the watchdog marks it within milliseconds
                if late.expired:
                    break
                time.sleep(0.01)
            assert late.expired
            with pytest.raises(DatabaseUnavailable):
                session().execute(select(Call.id)).all()
        finally:
            deadline.end()
        assert session().execute(select(Call.id)).all() == []  # outside a webhook: no deadline


def test_the_watchdog_cuts_a_read_that_never_ends(app):
    """A statement still running at the deadline is interrupted (SQLite) or cut (PostgreSQL)."""
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        if app.extensions["ivr.db"].engine.dialect.name == "sqlite"
        else "SELECT pg_sleep(30)"
    )
    app.config["WEBHOOK_DEADLINE_SECONDS"] = 0.3

    def run() -> BaseException | None:
        with app.app_context():
            deadline.begin(0.3)
            try:
                session().execute(text(endless))
            except DatabaseUnavailable as exc:
                return exc
            finally:
                deadline.end()
        return None

    assert isinstance(in_thread(run), DatabaseUnavailable)


def limits_seen(app: Flask, in_webhook: bool) -> tuple[str, ...]:
    """The statement and lock timeouts (PostgreSQL) or busy timeout (SQLite) a session's connection has."""
    with app.app_context():
        if in_webhook:
            deadline.begin(30)
        try:
            s = session()
            if s.get_bind().dialect.name == "sqlite":
                return (str(s.execute(text("PRAGMA busy_timeout")).scalar()),)
            return tuple(
                str(s.execute(text(f"SHOW {name}")).scalar())
                for name in ("statement_timeout", "lock_timeout")
            )
        finally:
            deadline.end()


def test_webhooks_pages_and_commands_get_their_own_limits(app, config, monkeypatch):
    sqlite = app.extensions["ivr.db"].engine.dialect.name == "sqlite"
    webhook, page = limits_seen(app, in_webhook=True), limits_seen(app, in_webhook=False)
    assert webhook == (("5000",) if sqlite else ("10s", "5s"))  # the test configuration's
    assert page == (("10000",) if sqlite else ("30s", "10s"))
    assert limits_seen(app, in_webhook=True) == webhook  # handed back to a webhook: its limits again
    if sqlite:  # a busy wait never outlasts what is left of the deadline
        with app.app_context():
            deadline.begin(3)  # under the lock timeout (5 s here): the wait is cut to what is left
            try:
                assert int(session().execute(text("PRAGMA busy_timeout")).scalar() or 0) <= 3000
            finally:
                deadline.end()
    for name, value in config.items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    command = create_app(require_token=False)
    try:
        assert limits_seen(command, in_webhook=False) == (("10000",) if sqlite else ("10min", "10s"))
    finally:
        command.extensions["ivr.db"].engine.dispose()


def test_the_fallback_never_asks_the_database(call, app, flows_dir, monkeypatch):
    call.start()  # this process has served the published version
    (flows_dir / "site.json").write_text("{ not json")  # the folder is no help any more
    store = app.extensions["ivr.flows"]

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the fallback asked the database")

    monkeypatch.setattr(store, "sessions", down)
    site = store.site_for_fallback()
    assert site is not None and site.fallback["desk"] == "local"


# --- the Fallback URL document -------------------------------------------------------------------


def fallback_request(twilio: TwilioClient, error_url: str, **extra: str) -> Any:
    params = twilio.call_params(new_sid(), ErrorCode="11205", ErrorUrl=error_url, **extra)
    return twilio.post("/voice/fallback.xml", params)


def test_the_fallback_url_answers_the_sites_fallback_without_the_database(app, twilio, monkeypatch):
    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the Fallback URL asked the database")

    monkeypatch.setattr(app.extensions["ivr.db"], "sessionmaker", down)
    monkeypatch.setattr(app.extensions["ivr.flows"], "sessions", down)
    root = parse(fallback_request(twilio, "https://ivr.test/voice/incoming"))
    assert is_the_fallback(root)
    assert one(root, "/Response/Enqueue/@action") == "https://ivr.test/voice/fallback"


def test_the_fallback_url_keeps_a_waiting_caller_in_the_queue(twilio):
    root = parse(fallback_request(twilio, "https://ivr.test/voice/step/main/to_billing/wait"))
    assert xpath(root, "/Response/Play") and not xpath(root, "/Response/Say")


def test_the_fallback_url_without_any_site_apologises(twilio, flows_dir, app):
    for document in flows_dir.glob("*.json"):
        document.unlink()
    app.extensions["ivr.flows"]._current = None
    root = parse(fallback_request(twilio, "https://ivr.test/voice/incoming"))
    assert xpath(root, "/Response/Say") and xpath(root, "/Response/Hangup")


def test_the_fallback_url_checks_the_signature(twilio):
    params = twilio.call_params(new_sid(), ErrorCode="11205", ErrorUrl="https://ivr.test/voice/incoming")
    assert twilio.post("/voice/fallback.xml", params, signature="wrong").status_code == 403


# --- gunicorn ------------------------------------------------------------------------------------


def test_the_defaults_leave_a_webhook_within_five_seconds() -> None:
    defaults = from_environment("/nonexistent")
    assert defaults["WEBHOOK_LOCK_TIMEOUT_SECONDS"] < defaults["WEBHOOK_DEADLINE_SECONDS"]
    assert defaults["WEBHOOK_DEADLINE_SECONDS"] + max(2, defaults["DB_CONNECT_TIMEOUT_SECONDS"]) <= 5


def test_gunicorn_outlasts_the_deadline_and_answers_before_twilio_gives_up():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    words = web.split()
    timeout = float(words[words.index("--timeout") + 1])
    graceful = float(words[words.index("--graceful-timeout") + 1])
    deadline_seconds = from_environment("/nonexistent")["WEBHOOK_DEADLINE_SECONDS"]
    assert deadline_seconds + 2 < timeout < 15  # a deadline plus a last connection attempt; Twilio's 15 s
    assert graceful <= timeout
    assert " ".join(GUNICORN_TIMEOUTS) in web  # `ivr serve` runs gunicorn the same way


def test_the_fallback_document_to_host_elsewhere_is_the_published_sites(runner, env, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ivr.example.com")
    assert runner.invoke(main, ["flows", "publish", "--note", "first"]).exit_code == 0
    result = runner.invoke(main, ["flows", "fallback"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    root = etree.fromstring(result.stdout.strip().encode())
    assert is_the_fallback(root)
    assert one(root, "/Response/Enqueue/@action") == "https://ivr.example.com/voice/fallback"


def test_a_held_connection_older_than_the_pools_is_replaced(app, monkeypatch):
    """A server or a proxy may end old sessions: the webhooks' held connection is renewed as the pool's."""
    database = app.extensions["ivr.db"]
    with app.app_context():
        first = database.webhook_connection()
        assert database.webhook_connection() is first  # held from one request to the next
        monkeypatch.setattr("ivr.db.RECYCLE_SECONDS", -1)
        renewed = database.webhook_connection()
        assert renewed is not first and first.closed
        assert renewed.execute(text("SELECT 1")).scalar() == 1
        database.drop_webhook_connection()
