"""Sessions that end: signing out ends the session on the server (a copied cookie stops working), a new
password or disabling ends every session of the account, a disabled account cannot sign in."""

from __future__ import annotations

import pytest

from ivr.accounts.users import create_user
from ivr.cli.main import main

from ..web.test_web import PASSWORD, _csrf, _login

NEW_PASSWORD = "a different passphrase"


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


@pytest.fixture
def signed_in(client, session):
    """A client signed in as ops, and a second browser holding a copy of its session cookie."""
    create_user(session, "maria", PASSWORD, role="ops")
    session.commit()
    assert _login(client, "maria", PASSWORD).status_code == 302
    cookie = client.get_cookie("session", domain="ivr.test")
    assert cookie is not None
    other = client.application.test_client()
    other.set_cookie("session", cookie.value, domain="ivr.test")
    assert other.get("/").status_code == 200
    return client, other


def _signed_out(client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_out_ends_the_session_everywhere(signed_in):
    client, copy = signed_in
    assert client.post("/logout", data={"csrf_token": _csrf(client.get("/").data)}).status_code == 302
    assert _signed_out(client) and _signed_out(copy)


@pytest.mark.parametrize(
    "change", [["user", "disable", "maria"], ["user", "passwd", "maria", "--password", NEW_PASSWORD]]
)
def test_disabling_or_a_new_password_ends_every_session(signed_in, runner, env, change):
    client, copy = signed_in
    assert runner.invoke(main, change).exit_code == 0
    assert _signed_out(client) and _signed_out(copy)


def test_a_disabled_account_cannot_sign_in_until_enabled(client, session, runner, env):
    create_user(session, "maria", PASSWORD)
    session.commit()
    assert runner.invoke(main, ["user", "disable", "maria"]).exit_code == 0
    refused = _login(client, "maria", PASSWORD)
    assert refused.status_code == 200 and b"This account is disabled" in refused.data
    assert _signed_out(client)
    wrong = _login(client, "maria", "not the password")
    assert b"Wrong username or password" in wrong.data  # a guess learns nothing about the account
    assert runner.invoke(main, ["user", "enable", "maria"]).exit_code == 0
    assert _login(client, "maria", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200


def test_after_a_new_password_only_the_new_one_signs_in(client, session, runner, env):
    create_user(session, "maria", PASSWORD)
    session.commit()
    assert (
        runner.invoke(main, ["user", "passwd", "maria"], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n").exit_code
        == 0
    )
    assert b"Wrong username or password" in _login(client, "maria", PASSWORD).data
    assert _login(client, "maria", NEW_PASSWORD).status_code == 302


def test_a_new_role_applies_at_the_next_request(client, session, runner, env):
    create_user(session, "maria", PASSWORD)
    session.commit()
    assert _login(client, "maria", PASSWORD).status_code == 302
    assert client.get("/audit").status_code == 403
    assert runner.invoke(main, ["user", "role", "maria", "admin"]).exit_code == 0
    assert client.get("/audit").status_code == 200
