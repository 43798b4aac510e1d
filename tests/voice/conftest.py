"""Fixtures of the agent-line tests: the agents, and the environment CLI commands run in."""

from __future__ import annotations

import pytest

from ivr.accounts.agents import create_agent


@pytest.fixture
def agents(session):
    """Ana (local desk), Bo (BPO), Cy (local, inactive), Di (of a desk the site does not have)."""
    create_agent(session, "1001", "local", "432198", "Ana")
    create_agent(session, "2001", "bpo", "555512", "Bo")
    create_agent(session, "1002", "local", "111134", "Cy").active = False
    create_agent(session, "3001", "night", "222256", "Di")
    session.commit()


@pytest.fixture
def env(env, monkeypatch):
    """The shared commands' environment (tests/conftest.py) without an auth token: these commands make up
    or read their own."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return {name: value for name, value in env.items() if name != "TWILIO_AUTH_TOKEN"}
