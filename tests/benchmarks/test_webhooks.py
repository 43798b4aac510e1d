"""benchmarks/webhooks.py: its calls take the path --at chooses whatever the wall clock says, its round-trip
counter counts what goes over the wire, and a tiny run prints every figure (PostgreSQL only)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from contextlib import redirect_stdout
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask import Flask
from psycopg import sql
from sqlalchemy import create_engine, select, text

from ivr import create_app
from ivr.models import Call

from ..conftest import CLOSED, PG_URL, _truncate

ROOT = Path(__file__).resolve().parents[2]
NIGHT = "2026-11-23T22:00:00"  # Monday 22:00 in Chicago: the sample desks are closed


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_webhooks", ROOT / "benchmarks" / "webhooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


webhooks = _load()


@pytest.fixture
def bench_app(config: dict[str, Any], database_url: str) -> Any:
    """ivr as the benchmark serves it (simulated time allowed, the benchmark's token), its own clock at
    `IVR_CLOCK` (night unless a test says otherwise), on the emptied test database."""
    _truncate(database_url)
    settings = config | {
        "TWILIO_AUTH_TOKEN": webhooks.TOKEN,
        "TWILIO_ACCOUNT_SID": "",
        "SIMULATED_TIME": True,
        "PUBLIC_BASE_URL": webhooks.COUNTED_BASE,
        "IVR_CLOCK": lambda: CLOSED,
        "SERVER_NAME": None,
    }
    app = create_app(settings)
    yield app
    app.extensions["ivr.db"].engine.dispose()


def _drive(app: Flask, at: datetime) -> tuple[list[str], Any]:
    """One benchmark call through the app in-process: its request kinds and its outcome."""
    outcome = webhooks.Outcome()
    client = webhooks.WsgiClient(app, webhooks.COUNTED_BASE)
    record = webhooks.run_call(client, webhooks.call_script(1, 2, at), outcome, "test")
    assert outcome.failures == [] and set(record.statuses) <= {200, 204}
    return outcome.kinds, record


def test_at_defaults_to_a_monday_morning_in_chicago_and_reads_a_naive_time_there() -> None:
    at = webhooks.parse_args([]).at
    assert (at.weekday(), at.hour, str(at.tzinfo)) == (0, 10, "America/Chicago")
    assert webhooks.parse_args(["--at", NIGHT]).at.utcoffset().total_seconds() == -6 * 3600
    assert webhooks.parse_args(["--at", "2026-11-23T16:00:00+00:00"]).at == at


def test_in_hours_the_calls_queue_whatever_the_servers_clock_says(bench_app, session) -> None:
    at = webhooks.parse_args([]).at  # the app's own clock says 21:00
    kinds, record = _drive(bench_app, at)
    assert kinds == ["incoming", "input", "input", "wait", "wait", "result", "input", "status"]
    assert all(params[webhooks.SIMULATED_TIME] for _path, params in record.requests)
    started = session.scalars(select(Call.started_at)).one()
    assert started == at + timedelta(seconds=5)  # logged at the signed time (the call's clock starts at 5 s)


def test_at_night_the_calls_go_to_voicemail(bench_app, session) -> None:
    kinds, _record = _drive(bench_app, webhooks.parse_args(["--at", NIGHT]).at)
    assert "wait" not in kinds and "transcription" in kinds


def test_the_same_calls_take_the_same_round_trips_every_time(bench_app) -> None:
    at = webhooks.parse_args([]).at
    first = webhooks.count_round_trips(bench_app, 2, 2, at)
    again = webhooks.count_round_trips(bench_app, 2, 2, at)
    assert first["failures"] == [] and first == again
    assert set(first["by_kind"]) == {"incoming", "input", "wait", "result", "status"}
    for kind, counted in first["by_kind"].items():
        parts = sum(counted[part] for part in webhooks.ROUND_TRIP_PARTS)
        assert counted["statements"] >= 1 and counted["round_trips"] == pytest.approx(parts), kind
    assert first["by_kind"]["input"]["requests"] == 6 and first["per_request"]["requests"] == 16


def test_the_counter_counts_statements_and_only_the_transactions_on_the_wire(database_url) -> None:
    # a plain engine of SQLAlchemy's, whatever ivr's own engines do with transactions
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    postgresql = engine.dialect.name == "postgresql"
    counter = webhooks.RoundTripCounter(engine)
    try:
        with engine.begin() as conn:  # a SELECT, then a write
            conn.execute(text("SELECT 1"))
            conn.execute(text("UPDATE calls SET errors = errors WHERE id = -1"))
        after_write = counter.snapshot()
        with engine.begin():  # nothing sent: neither BEGIN nor COMMIT goes over the wire
            pass
        with engine.connect() as conn:  # rolled back when closed
            conn.execute(text("SELECT 1"))
        after_rollback = counter.snapshot()
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            auto.execute(text("SELECT 1"))
    finally:
        counter.close()
    assert after_write == {"statements": 2, "begin": 1, "commit": 1}  # sqlite3 begins before the write
    if postgresql:  # psycopg opens a transaction before a SELECT too
        assert after_rollback - after_write == {"statements": 1, "begin": 1, "rollback": 1}
    else:
        assert after_rollback - after_write == {"statements": 1}
    assert counter.snapshot() - after_rollback == {"statements": 1}  # autocommit: the statement alone
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    assert counter.snapshot() - after_rollback == {"statements": 1}  # closed: no longer counting
    engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="the benchmark serves ivr on PostgreSQL (IVR_TEST_POSTGRES_URL)")
def test_a_tiny_run_prints_every_figure_and_its_checks_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # the test configuration's generous webhook limits for the served app (it inherits the environment): on
    # a loaded CI machine a step can pass the production deadline of 2.5 s, and the breaker then opens
    monkeypatch.setenv("WEBHOOK_DEADLINE_SECONDS", "10")
    monkeypatch.setenv("WEBHOOK_LOCK_TIMEOUT_SECONDS", "5")
    parts = urlsplit(PG_URL)
    server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    database = parts.path.strip("/") + "_webhooks"
    argv = ["--calls", "2", "--threads", "1", "--warmup-calls", "1", "--round-trip-calls", "1"]
    argv += ["--pg-url", server, "--db-name", database, "--json"]
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            status = webhooks.main(argv)
    finally:  # the benchmark leaves its database for a look afterwards; a test leaves nothing
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    out = printed.getvalue()
    assert status == 0, out
    report = json.loads(out[out.index("\n{\n") + 1 :])
    assert report["checks"]["ok"] and report["settings"]["at"] == "2026-11-23T10:00:00-06:00"
    assert set(report["round_trips"]["by_kind"]) == {"incoming", "input", "wait", "result", "status"}
    assert report["round_trips"]["per_request"]["round_trips"] >= 1
    assert set(report["targets"]["ivr"]["latency_by_kind"]["wait"]) == {"requests", "p50_ms", "p99_ms"}
    cpu = report["targets"]["ivr"]["cpu_ms_per_request"]
    assert report["server_db_cpu_ms_per_request"]["ivr"] == pytest.approx(cpu["server"] + cpu["postgres"])
    assert "server+DB CPU per request:" in out and "target <= 2.0, aim 1.0" in out
    assert "round trips per request by kind" in out
