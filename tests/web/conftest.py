"""Fixtures of the ops pages: a browser-like client and an ops user signed in with it."""

from __future__ import annotations

import pytest

from ivr.accounts.users import create_user

from .test_web import PASSWORD, _login


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


@pytest.fixture
def ops(client, session):
    """The client, signed in as an ops user (who sees every desk)."""
    create_user(session, "ops", PASSWORD)
    session.commit()
    assert _login(client, "ops", PASSWORD).status_code == 302
    return client
