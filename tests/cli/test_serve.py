"""`ivr serve`: it migrates, publishes the flows and hands gunicorn an app it can load."""

from __future__ import annotations

import os
import sys

import pytest
from flask import Flask
from gunicorn.util import import_app

from ivr.cli.main import main


@pytest.fixture(autouse=True)
def served_key(env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SECRET_KEY long enough to serve with (the CLI's test environment has a short one)."""
    monkeypatch.setenv("SECRET_KEY", "k" * 32)


def test_serve_hands_gunicorn_an_app_it_can_load(runner, env, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(os, "execvp", lambda _file, args: started.append(list(args)))
    result = runner.invoke(main, ["serve", "--port", "5099", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "ivr on http://127.0.0.1:5099/" in result.output
    [args] = started
    assert args[:3] == [sys.executable, "-m", "gunicorn"]
    assert args[args.index("--bind") + 1] == "127.0.0.1:5099"
    app = import_app(args[-1])  # as gunicorn loads it: the factory called with the environment
    assert isinstance(app, Flask)
    assert {"voice.flow.incoming", "web.calls.index", "api.calls.index"} <= {
        r.endpoint for r in app.url_map.iter_rules()
    }


def test_serve_refuses_a_short_secret_key_at_once(runner, env, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(os, "execvp", lambda _file, args: started.append(list(args)))
    monkeypatch.setenv("SECRET_KEY", "k")
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 1 and "SECRET_KEY has 1 bytes: use at least 32" in result.output
    assert started == []


def test_serve_with_a_made_up_token_lets_simulated_calls_bring_their_time(
    runner, env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWILIO_AUTH_TOKEN", "IVR_SIMULATED_TIME"):
        monkeypatch.setenv(name, "restored-after-the-test")
        monkeypatch.delenv(name)
    monkeypatch.setattr(os, "execvp", lambda _file, args: None)
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert "twilio_auth_token (`ivr simulate --url` uses it)" in result.output
    assert os.environ["IVR_SIMULATED_TIME"] == "1"  # no real Twilio can sign with a made-up token


def test_serve_with_the_account_token_keeps_its_own_clock(
    runner, env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_SIMULATED_TIME", "restored-after-the-test")
    monkeypatch.delenv("IVR_SIMULATED_TIME")
    monkeypatch.setattr(os, "execvp", lambda _file, args: None)
    result = runner.invoke(main, ["serve", "--port", "5098"])
    assert result.exit_code == 0, result.output
    assert "IVR_SIMULATED_TIME" not in os.environ
