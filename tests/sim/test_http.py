"""The simulator against a real server: ivr under gunicorn on loopback, called over HTTP with `--url`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from ivr.cli.main import main
from ivr.db import make_engine
from ivr.migrations.runner import upgrade
from ivr.models import Call
from ivr.sim import runner

from ..conftest import AUTH_TOKEN, ROOT, SAMPLE_FLOWS
from ..servers import serving

SAMPLE_PROFILE = ROOT / "profiles" / "acme.json"


@pytest.fixture
def served_database(tmp_path: Path) -> str:
    """The served app's own SQLite database."""
    return f"sqlite:///{tmp_path / 'served.sqlite3'}"


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the server; tests may change it before asking for `server`."""
    return {}


@pytest.fixture
def server(served_database: str, server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """ivr served by gunicorn on a loopback port, on its own SQLite database."""
    url = served_database
    upgrade(url)
    env = (
        os.environ
        | {
            "DATABASE_URL": url,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SECRET_KEY": "k" * 32,  # a served app refuses a shorter one
            "FLOWS_DIR": str(SAMPLE_FLOWS),
            "LOG_LEVEL": "WARNING",
        }
        | server_env
    )

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "ivr:create_app()",
        ]

    with serving(command, env, tmp_path, "Listening at:", "Connection in use", 30.0) as port:
        base = f"http://127.0.0.1:{port}"
        requests.get(f"{base}/login", timeout=30)  # its worker is up: the socket was bound before
        yield base


def test_simulate_against_a_running_server(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    result = CliRunner().invoke(
        main,
        ["simulate", "--url", server, "--to", "+15125550100", "--press", "1", "--press", "2", "--press", "5"],
    )
    assert result.exit_code == 0, result.output
    assert "Thank you for calling Acme Home Supplies" in result.output
    assert "outcome: ok" in result.output


def test_simulate_with_the_wrong_token_reports_the_403(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-server-token")
    result = CliRunner().invoke(main, ["simulate", "--url", server, "--to", "+15125550100", "--press", "1"])
    assert result.exit_code == 1
    assert "Twilio error 11200: HTTP 403 from the application" in result.output


def test_simulate_at_a_time_on_a_server_that_accepts_it(
    server_env: dict[str, str], served_database: str, request: pytest.FixtureRequest
) -> None:
    server_env["IVR_SIMULATED_TIME"] = "1"
    server = request.getfixturevalue("server")
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 21:00 in Chicago: closed
    args = ["simulate", "--url", server, "--to", "+15125550100", "--press", "1", "--at", at.isoformat()]
    result = CliRunner(env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}).invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "next business day" in result.output  # the server's hours node saw --at
    engine = make_engine(served_database)
    with engine.connect() as connection:
        started, ended = connection.execute(select(Call.started_at, Call.ended_at)).one()
    engine.dispose()
    assert started == at and at < ended < at + timedelta(minutes=2)


def test_simulate_at_a_time_on_a_server_with_its_own_clock_says_so(server: str) -> None:
    args = ["simulate", "--url", server, "--to", "+15125550100", "--press", "1", "--at", "2026-11-25T03:00Z"]
    result = CliRunner(env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}).invoke(main, args)
    assert result.exit_code == 1
    assert "this server keeps its own clock; --at needs IVR_SIMULATED_TIME=1 on it" in result.output


def test_simulate_url_uses_the_local_token_and_says_where_it_lives(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "instance" / "twilio_auth_token"
    monkeypatch.setattr(runner, "local_token_path", lambda: local)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    args = [
        "simulate",
        "--url",
        server,
        "--to",
        "+15125550100",
        "--press",
        "1",
        "--press",
        "2",
        "--press",
        "5",
    ]
    missing = CliRunner().invoke(main, args)
    assert missing.exit_code == 1
    assert "set TWILIO_AUTH_TOKEN to the server's auth token" in missing.output
    assert f"keeps the token it made up in {local}" in missing.output
    local.parent.mkdir()
    local.write_text(AUTH_TOKEN + "\n")
    found = CliRunner().invoke(main, args)
    assert found.exit_code == 0, found.output
    assert f"TWILIO_AUTH_TOKEN is not set: signing with the local token in {local}" in found.stderr
    assert "outcome: ok" in found.stdout


@pytest.mark.parametrize("accepts", [True, False])
def test_traffic_over_http_lands_at_its_simulated_times(
    accepts: bool, server_env: dict[str, str], served_database: str, request: pytest.FixtureRequest
) -> None:
    if accepts:
        server_env["IVR_SIMULATED_TIME"] = "1"
    server = request.getfixturevalue("server")
    env = {
        "DATABASE_URL": served_database,  # the simulated agents are made in the server's database
        "FLOWS_DIR": str(SAMPLE_FLOWS),
        "SECRET_KEY": "x",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    args = ["traffic", "--profile", str(SAMPLE_PROFILE), "--calls", "3", "--url", server, "--seed", "1"]
    result = CliRunner(env=env).invoke(main, [*args, "--start", "2026-11-23"])
    if not accepts:
        assert result.exit_code == 1
        assert "3 calls" in result.stdout
        assert "the first: Twilio error 11200: HTTP 400" in result.stderr
        assert "--at needs IVR_SIMULATED_TIME=1 on it" in result.stderr
        return
    assert result.exit_code == 0, result.output
    engine = make_engine(served_database)
    with engine.connect() as connection:
        spans = connection.execute(select(Call.started_at, Call.ended_at).where(Call.role == "caller")).all()
    engine.dispose()
    first_day = datetime(2026, 11, 23, tzinfo=UTC)
    assert len(spans) == 3
    assert all(first_day <= started < ended < first_day + timedelta(days=2) for started, ended in spans)
