"""Migration 0009: what callers hear does not change on upgrade, and accounts keep what they could do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import bindparam, text

from ivr.db import UTCDateTime
from ivr.migrations.runner import upgrade

from .revisions import at_revision

AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
AT_PARAM = bindparam("at", type_=UTCDateTime())  # sqlite3's own datetime adapter is deprecated from 3.12


@pytest.fixture
def at_0008(app: Flask, database_url: str) -> Iterator[str]:
    """The (emptied) test database taken down to revision 0008, and back up to head afterwards."""
    with at_revision(app, database_url, "0008") as url:
        yield url


def _version(conn, digest: str, published_at: datetime) -> None:
    bundle = json.dumps({"site": {}, "flows": {}, "files": {}, "texts": {"site.json": digest}})
    conn.execute(
        text(
            "INSERT INTO site_versions (digest, bundle, published_at, source) VALUES (:d, :b, :at, 'flows')"
        ).bindparams(AT_PARAM),
        {"d": digest, "b": bundle, "at": published_at},
    )


@pytest.mark.parametrize("reverted", [True, False])
def test_the_version_served_before_is_the_newest_after(app: Flask, at_0008: str, reverted: bool) -> None:
    engine = app.extensions["ivr.db"].engine
    with engine.begin() as conn:
        _version(conn, "a" * 64, AT)
        _version(conn, "b" * 64, AT + timedelta(hours=1))
        if reverted:  # the folder went back to its first content: the old store renewed that row
            conn.execute(
                text("UPDATE site_versions SET published_at = :at WHERE digest = :d").bindparams(AT_PARAM),
                {"at": AT + timedelta(hours=2), "d": "a" * 64},
            )
    engine.dispose()
    upgrade(at_0008)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, digest, rolled_back_from FROM site_versions ORDER BY id")).all()
    newest = rows[-1]
    if reverted:
        assert len(rows) == 3
        assert (newest.digest, newest.rolled_back_from) == ("a" * 64, rows[0].id)
    else:
        assert len(rows) == 2
        assert (newest.digest, newest.rolled_back_from) == ("b" * 64, None)


def test_accounts_keep_what_they_could_do(app: Flask, at_0008: str) -> None:
    engine = app.extensions["ivr.db"].engine
    with engine.begin() as conn:
        for name, desk in (("olga", None), ("pat", "bpo")):
            conn.execute(
                text(
                    "INSERT INTO users (username, password_hash, desk, created_at) VALUES (:n, 'x', :d, :at)"
                ).bindparams(AT_PARAM),
                {"n": name, "d": desk, "at": AT},
            )
            conn.execute(
                text(
                    "INSERT INTO api_tokens (name, token_hash, desk, created_at) VALUES (:n, :h, :d, :at)"
                ).bindparams(AT_PARAM),
                {"n": name, "h": name * 8, "d": desk, "at": AT},
            )
    engine.dispose()
    upgrade(at_0008)
    with engine.connect() as conn:
        users = dict(conn.execute(text("SELECT username, role FROM users")).all())
        tokens = dict(conn.execute(text("SELECT name, role FROM api_tokens")).all())
    assert users == {"olga": "admin", "pat": "partner"}
    assert tokens == {"olga": "supervisor", "pat": "partner"}
