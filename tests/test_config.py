"""Configuration: local secrets in the instance folder (private, stable, never empty), refused settings."""

from __future__ import annotations

import stat

import pytest

from ivr import create_app
from ivr.config import instance_secret


def test_instance_secret_is_private_stable_and_never_empty(tmp_path):
    first = instance_secret(str(tmp_path), "secret_key")
    assert len(first) == 64
    assert instance_secret(str(tmp_path), "secret_key") == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    (tmp_path / "secret_key").write_text("")  # as a crash between create and write would leave it
    again = instance_secret(str(tmp_path), "secret_key")
    assert len(again) == 64 and again != first
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary files left


def test_simulated_time_is_refused_beside_a_twilio_account(config):
    """IVR_SIMULATED_TIME lets a signed request choose a call's time: only for `ivr serve`'s made-up token."""
    with pytest.raises(RuntimeError, match="never with a Twilio account"):
        create_app(config | {"SIMULATED_TIME": True})
    assert create_app(config | {"SIMULATED_TIME": True, "TWILIO_ACCOUNT_SID": ""}).config["SIMULATED_TIME"]


def test_a_served_app_refuses_a_short_secret_key(config):
    """SECRET_KEY=k would let anyone forge a session cookie: refused by an app that serves (not tests)."""
    served = config | {"TESTING": False}
    with pytest.raises(RuntimeError, match="SECRET_KEY has 1 bytes: use at least 32"):
        create_app(served | {"SECRET_KEY": "k"})
    with pytest.raises(RuntimeError, match="SECRET_KEY has 31 bytes"):
        create_app(served | {"SECRET_KEY": "k" * 31})
    app = create_app(served | {"SECRET_KEY": "k" * 32})
    app.extensions["ivr.db"].engine.dispose()
    command_line = create_app(served | {"SECRET_KEY": "k"}, require_token=False)  # serves nothing
    command_line.extensions["ivr.db"].engine.dispose()


def test_ivr_serve_makes_up_a_key_long_enough(tmp_path, monkeypatch, config):
    """`ivr serve` without SECRET_KEY serves with the instance folder's key: it passes the check."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    command_line = create_app(config | {"SECRET_KEY": ""}, require_token=False)
    command_line.extensions["ivr.db"].engine.dispose()
    app = create_app(config | {"TESTING": False, "SECRET_KEY": command_line.config["SECRET_KEY"]})
    app.extensions["ivr.db"].engine.dispose()
