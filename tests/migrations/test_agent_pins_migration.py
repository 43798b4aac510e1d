"""Migration 0013: agents keep their PINs (short ones included, their length unknown until the next sign-in)
and lose the old failure columns; the do-not-call removals table starts empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import bindparam, inspect, text
from werkzeug.security import generate_password_hash

from ivr.accounts.agents import find_agent, verify_agent
from ivr.db import UTCDateTime
from ivr.migrations.runner import upgrade

from ..conftest import OPEN
from .revisions import at_revision


@pytest.fixture
def at_0011(app: Flask, database_url: str) -> Iterator[str]:
    """The (emptied) test database taken down to revision 0011, and back up to head afterwards."""
    with at_revision(app, database_url, "0011") as url:
        yield url


def test_agents_with_short_pins_still_sign_in_after_the_upgrade(app: Flask, at_0011: str, session) -> None:
    engine = app.extensions["ivr.db"].engine
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agents (agent_id, desk, name, pin_hash, active, created_at, failed_pins,"
                " locked_until) VALUES ('1001', 'local', 'Ana', :h, :t, :at, 3, NULL)"
            ).bindparams(bindparam("at", type_=UTCDateTime())),  # sqlite3's own adapter: deprecated in 3.12
            {"h": generate_password_hash("4321"), "t": True, "at": OPEN},
        )
    engine.dispose()
    upgrade(at_0011)
    columns = {c["name"] for c in inspect(engine).get_columns("agents")}
    assert {"short_pin", "pin_expired"} <= columns and not {"failed_pins", "locked_until"} & columns
    assert inspect(engine).has_table("do_not_call_removals")
    ana = find_agent(session, "1001")
    assert ana is not None and (ana.short_pin, ana.pin_expired) == (None, False)
    assert verify_agent(session, ana, "4321", "+17375550101", "+15125550199", OPEN).agent is ana
    assert ana.short_pin is True
    session.rollback()
