"""Shared fixtures: an app on each test database, a client, signed Twilio requests, a CLI runner."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, MetaData, Table, inspect, make_url, text
from sqlalchemy.orm import Session

from ivr import create_app
from ivr.db import make_engine
from ivr.migrations.runner import recreate
from ivr.voice.journal_replay import replayer

from .openapi import watch
from .twilio import CallDriver, TwilioClient

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLOWS = ROOT / "flows"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
GIVEN_PG_URL = os.environ.get("IVR_TEST_POSTGRES_URL", "")


def _worker_url(url: str, worker: str, run: str) -> str:
    """The database of one pytest-xdist worker (`make test` runs `-n auto`): `test` becomes `test_gw0_<run>`,
    `test_gw1_<run>`... on the same server, made and dropped here (the run's id in the name: two runs on one
    server never drop each other's); the given one in a run without workers."""
    if not (url and worker):
        return url
    parts = make_url(url)
    return parts.set(database=f"{parts.database}_{worker}_{run[:8]}").render_as_string(hide_password=False)


PG_URL = _worker_url(
    GIVEN_PG_URL, os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
OPEN = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Chicago: the sample desks are open
CLOSED = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Tuesday 21:00 in Chicago
HOLIDAY = datetime(2026, 12, 25, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: a SQLite file, and PostgreSQL when IVR_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = PG_URL
        if url != GIVEN_PG_URL:
            _worker_database("CREATE")
    recreate(url)
    return url


def _worker_database(verb: str, url: str = "") -> None:
    """CREATE (when missing) or DROP this xdist worker's PostgreSQL database (or the one of `url`), on the
    given one's server."""
    name = make_url(url or PG_URL).database
    engine = make_engine(GIVEN_PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first()
        if verb == "CREATE" and found is None:  # from template0: nobody connects to it, unlike template1
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        elif verb == "DROP" and found is not None:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    engine.dispose()


_WORKERS: list[str] = []  # in xdist's controller: the database URL of each worker it started


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller notes each worker's PostgreSQL database, to drop it if the worker did not."""
    if GIVEN_PG_URL:
        _WORKERS.append(
            _worker_url(GIVEN_PG_URL, node.workerinput["workerid"], node.workerinput["testrunuid"])
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker drops the PostgreSQL database it made, and the controller those of workers that
    crashed: a test run leaves nothing on the server."""
    for engine in _ENGINES.values():
        engine.dispose()
    if GIVEN_PG_URL and PG_URL != GIVEN_PG_URL:
        _worker_database("DROP")
    for url in _WORKERS:
        _worker_database("DROP", url)


def _lift_append_only_guards(conn: Connection) -> list[str]:
    """Let the tests empty the audit log, which the database otherwise refuses (migration 0009): on
    PostgreSQL for this transaction only; on SQLite the triggers are dropped, returned to be made again."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        return []
    found = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    ).all()
    for name, _sql in found:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    return [sql for _name, sql in found]


# One engine per test database in each worker, and the order to empty its tables in, found by reflection once
# for each set of tables it has (a migration test may leave it with others)
_ENGINES: dict[str, Engine] = {}
_EMPTYING_ORDER: dict[tuple[str, frozenset[str]], list[Table]] = {}


def _emptying_order(conn: Connection, url: str) -> list[Table]:
    """The tables of the database to empty, in an order its foreign keys allow."""
    key = (url, frozenset(inspect(conn).get_table_names()))
    if key not in _EMPTYING_ORDER:
        meta = MetaData()
        meta.reflect(conn)
        # rollup tables last: deleting the calls marks their days dirty
        ordered = sorted(reversed(meta.sorted_tables), key=lambda table: table.name.startswith("rollup_"))
        _EMPTYING_ORDER[key] = [table for table in ordered if table.name != "alembic_version"]
    return _EMPTYING_ORDER[key]


def _truncate(url: str) -> None:
    """Empty every table of the database at `url` but alembic_version."""
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, make_engine(url))
    with engine.begin() as conn:
        guards = _lift_append_only_guards(conn)
        for table in _emptying_order(conn, url):
            conn.execute(table.delete())
        for guard in guards:
            conn.exec_driver_sql(guard)


@pytest.fixture(autouse=True)
def _command_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands publish the flows folder they read, as `ivr serve` does (FLOWS_WATCH=1), in every test; and
    an app made from the environment (a command, a served app) journals and keeps its sign-in slots in the
    test's own folder, not the instance folder that every test and test worker would share."""
    monkeypatch.setenv("FLOWS_WATCH", "1")
    monkeypatch.setenv("JOURNAL_PATH", str(tmp_path / "commands-journal.jsonl"))
    monkeypatch.setenv("SIGN_IN_LOCK_DIR", str(tmp_path))


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    """A writable copy of the sample flows folder."""
    target = tmp_path / "flows"
    shutil.copytree(SAMPLE_FLOWS, target)
    return target


@pytest.fixture
def config(database_url: str, flows_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """Test configuration; tests may change it before asking for `app`."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "PUBLIC_BASE_URL": "",
        "FLOWS_DIR": str(flows_dir),
        "FLOWS_CHECK_SECONDS": 0,
        "FLOWS_WATCH": True,  # the sample folder is published as the tests change it (as under `ivr serve`)
        "SECRET_KEY": "test-secret",
        "SERVER_NAME": "ivr.test",
        "PREFERRED_URL_SCHEME": "https",
        "IVR_CLOCK": lambda: OPEN,
        "JOURNAL_PATH": str(tmp_path / "journal.jsonl"),  # each test its own journal
        "SIGN_IN_LOCK_DIR": str(tmp_path),  # a test's password-check slot is its own (docs/operations.md)
        # generous on a busy test machine; tests/test_deadline.py sets short ones where it tests them
        "WEBHOOK_DEADLINE_SECONDS": 10,
        "WEBHOOK_LOCK_TIMEOUT_SECONDS": 5,
        "WEBHOOK_DATABASE_RETRY_SECONDS": 0,  # the next webhook probes at once (test_breaker.py)
    }


@pytest.fixture
def app(config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    """The app on an emptied database."""
    _truncate(database_url)
    application = create_app(config)
    watch(application)  # every API answer is checked against the OpenAPI document
    yield application
    replayer(application).wait()  # a journal replay a test's webhook started in the background
    application.extensions["ivr.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client."""
    return app.test_client()


@pytest.fixture
def twilio(client: FlaskClient) -> TwilioClient:
    """Signed Twilio requests against the app."""
    return TwilioClient(client, AUTH_TOKEN, base="https://ivr.test")


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session outside any request."""
    with app.extensions["ivr.db"].sessionmaker() as s:
        yield s


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, flows_dir: Path, app: Flask) -> dict[str, str]:
    """Environment for CLI commands on the test database (the `app` fixture empties it first), returned."""
    values = {
        "DATABASE_URL": database_url,
        "FLOWS_DIR": str(flows_dir),
        "SECRET_KEY": "x",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        # the test configuration's generous webhook limits (the defaults, 2.5 s and 1 s, are for production)
        "WEBHOOK_DEADLINE_SECONDS": "10",
        "WEBHOOK_LOCK_TIMEOUT_SECONDS": "5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def runner(app: Flask) -> CliRunner:
    """A CLI runner."""
    return CliRunner()


@pytest.fixture
def call(twilio: TwilioClient) -> CallDriver:
    """A new call to the sample main line."""
    return CallDriver(twilio)
