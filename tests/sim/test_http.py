"""The simulator against a real server: ivr under gunicorn on loopback, called over HTTP with `--url`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from ivr.cli.main import main
from ivr.migrations.runner import upgrade

from ..conftest import AUTH_TOKEN, SAMPLE_FLOWS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """ivr served by gunicorn on a loopback port, on its own SQLite database."""
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    upgrade(url)
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SECRET_KEY": "x",
        "FLOWS_DIR": str(SAMPLE_FLOWS),
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "ivr:create_app()",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/login", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


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
