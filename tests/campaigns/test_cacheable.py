"""Contact and do-not-call imports run only statements SQLAlchemy can cache (no ON CONFLICT construct compiled
again on every execution), on each test database; and every module-level statement of the campaigns and
dialer packages, the sign-in throttle and ivr.upserts has a cache key."""

from __future__ import annotations

import io

import pytest

from ivr.campaigns import dnc

from ..cacheable import module_statements, recording, statements_of
from ..campaign_helpers import contacts, load, new_campaign
from ..conftest import OPEN

CSV = "phone,name,colour\n+15125550101,Ann,red\n+15125550102,Bob,\n+15125550101,,blue\n"


def test_a_contact_import_and_its_repeat_run_cacheable_statements(app, session) -> None:
    campaign = new_campaign(app, session)
    engine = app.extensions["ivr.db"].engine
    with recording(engine) as first:
        report = load(session, campaign, CSV)
    with recording(engine) as again:
        repeated = load(session, campaign, CSV + "+15125550103,Cat,green\n")
    assert (report.imported, len(report.merged)) == (2, 1)
    assert (repeated.imported, len(repeated.merged)) == (1, 3)
    for run in (first, again):
        assert run.ran("ON CONFLICT"), "the import's upsert was not seen"
        assert run.uncacheable() == []


def test_do_not_call_additions_run_cacheable_statements_and_count_what_they_added(app, session) -> None:
    engine = app.extensions["ivr.db"].engine
    with recording(engine) as run:
        listed = dnc.import_list(session, io.StringIO("+15125550101\n+15125550102\n"), "US", now=OPEN)
        again = dnc.import_list(session, io.StringIO("+15125550102\n+15125550103\n"), "US", now=OPEN)
        one = dnc.block(session, "+15125550104", "manual", "asked", now=OPEN)
        twice = dnc.block(session, "+15125550104", "manual", "asked", now=OPEN)
        session.commit()
    assert (listed.added, listed.already, again.added, again.already, one, twice) == (2, 0, 1, 1, True, False)
    assert len(run.ran("ON CONFLICT")) == 4
    assert run.uncacheable() == []


def test_do_not_call_counts_across_chunks(app, session, monkeypatch) -> None:
    monkeypatch.setattr(dnc, "CHUNK", 3)
    numbers = [f"+1512555{n:04d}" for n in range(100, 108)]
    assert dnc.block_many(session, numbers[:4], now=OPEN) == 4
    assert dnc.block_many(session, numbers, now=OPEN) == 4  # chunks of 3, 3 and 2: 4 new in all
    session.commit()
    assert dnc.listed(session)[1] == 8


@pytest.mark.parametrize("package", ["ivr.campaigns", "ivr.dialer", "ivr.accounts"])
def test_module_level_statements_have_a_cache_key(package: str) -> None:
    found = dict(module_statements(package))
    for name, value in found.items():
        for dialect, statement in statements_of(value):
            assert statement._generate_cache_key() is not None, f"{name} ({dialect}) has no cache key"
    expected = {
        "ivr.campaigns": [
            "importer.UPSERT_JSON",
            "importer.UPSERT_ARRAYS",
            "importer.MERGE",
            "dnc.ADD[postgresql]",
            "dnc.ADD[sqlite]",
        ],
        "ivr.dialer": ["budget.ACCOUNT_BUDGET"],
        "ivr.accounts": ["throttle.FAILURE"],
    }[package]
    assert {f"{package}.{name}" for name in expected} <= set(found)


def test_names_and_variables_come_through_the_one_statement_upsert_unchanged(app, session) -> None:
    campaign = new_campaign(app, session)
    names = ['Zoë "Zed" O\'Brien', "0123", "back\\slash ✓ 😀", "日本語"]
    csv = "phone,name,note\n" + "".join(
        f'+1512555010{n},"{name.replace(chr(34), chr(34) * 2)}","{name.replace(chr(34), chr(34) * 2)}"\n'
        for n, name in enumerate(names)
    )
    assert load(session, campaign, csv).imported == 4
    found = contacts(session, campaign)
    assert [(found[f"+1512555010{n}"].name, found[f"+1512555010{n}"].variables) for n in range(4)] == [
        (name, {"note": name}) for name in names
    ]
    assert [found[f"+1512555010{n}"].line for n in range(4)] == [2, 3, 4, 5]
