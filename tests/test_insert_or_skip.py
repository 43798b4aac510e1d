"""ivr.db.InsertOrSkip: INSERT … ON CONFLICT DO NOTHING [RETURNING], compiled once per dialect, on each test
database: rows inserted, duplicates skipped, typed values round-tripped, and a cache key every time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from ivr.db import InsertOrSkip, JSONType, UTCDateTime, make_engine

META = MetaData()
PROBES = Table(
    "insert_or_skip_probes",
    META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(20), nullable=False),
    Column("name", String(40), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", JSONType, nullable=True),
    Column("kind", String(10), nullable=False, default="probe"),
    Column("made_at", UTCDateTime(), nullable=False, default=lambda: MADE),
    UniqueConstraint("scope", "name", name="uq_insert_or_skip_probes"),
)
COLUMNS = ("scope", "name", "at", "kind")
PLAIN = InsertOrSkip(PROBES, COLUMNS)
RETURNING = InsertOrSkip(PROBES, COLUMNS, ("id", "at", "kind"))
WITH_JSON = InsertOrSkip(PROBES, (*COLUMNS, "data"), ("id", "data"))
DEFAULTED = InsertOrSkip(PROBES, ("scope", "name", "at"), ("kind", "made_at"))  # the others: defaults
MADE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # what the made_at column's Python default gives
AT = datetime(2026, 11, 24, 16, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database with the probe table (made for the test, dropped after it)."""
    made = make_engine(database_url)
    META.drop_all(made)
    META.create_all(made)
    yield made
    META.drop_all(made)
    made.dispose()


def _row(name: str, at: datetime = AT, kind: str = "k") -> dict[str, object]:
    return {"scope": "s", "name": name, "at": at, "kind": kind}


def test_inserts_a_row_and_skips_a_duplicate_key(engine: Engine) -> None:
    with engine.begin() as conn:
        assert PLAIN.execute(conn, _row("a")).rowcount == 1
        assert PLAIN.execute(conn, _row("a", AT + timedelta(hours=1), "other")).rowcount == 0
        assert PLAIN.execute(conn, _row("b")).rowcount == 1
    with engine.connect() as conn:
        rows = conn.execute(select(PROBES.c.name, PROBES.c.at, PROBES.c.kind).order_by(PROBES.c.name)).all()
    assert [tuple(r) for r in rows] == [("a", AT, "k"), ("b", AT, "k")]  # the first "a" kept


def test_returning_gives_a_row_only_for_an_inserted_row(engine: Engine) -> None:
    with Session(engine) as session:
        first = RETURNING.execute(session, _row("a")).all()
        again = RETURNING.execute(session, _row("a", kind="other")).all()
        other = RETURNING.execute(session, _row("b", AT + timedelta(days=1))).all()
        session.commit()
    assert len(first) == 1 and again == [] and len(other) == 1
    assert first[0].id != other[0].id
    assert first[0].at == AT and first[0].at.tzinfo == UTC  # UTCDateTime's result processing
    assert other[0].at == AT + timedelta(days=1) and first[0].kind == "k"


def test_a_time_is_stored_in_utc_and_read_back_aware(engine: Engine) -> None:
    chicago = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    with engine.begin() as conn:
        PLAIN.execute(conn, _row("typed", chicago))
    with engine.connect() as conn:
        found = conn.execute(select(PROBES.c.at).where(PROBES.c.name == "typed")).scalar_one()
        text_form = conn.execute(
            select(func.count()).where(PROBES.c.at == AT.replace(microsecond=0))
        ).scalar_one()
    assert found == chicago and found.tzinfo == UTC and found.hour == 16
    assert text_form == 1  # stored as UTC: an ORM-side comparison with the same moment finds it


def test_a_naive_time_is_refused_as_by_the_column_type(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        PLAIN.execute(conn, _row("naive", datetime(2026, 1, 1)))


def test_json_round_trips(engine: Engine) -> None:
    nested = {"digits": "1#", "list": [1, 2.5, None, True], "text": 'l\'été "quoted"'}
    with engine.begin() as conn:
        inserted = WITH_JSON.execute(conn, _row("json") | {"data": nested}).all()
        skipped = WITH_JSON.execute(conn, _row("json") | {"data": {"other": 1}}).all()
    with engine.connect() as conn:
        stored = conn.execute(select(PROBES.c.data).where(PROBES.c.name == "json")).scalar_one()
    assert [r.data for r in inserted] == [nested] and skipped == [] and stored == nested


def test_a_column_left_out_gets_its_python_default(engine: Engine) -> None:
    with engine.begin() as conn:
        returned = DEFAULTED.execute(conn, {"scope": "s", "name": "d", "at": AT}).one()
    with engine.connect() as conn:
        stored = conn.execute(select(PROBES.c.kind, PROBES.c.made_at)).one()
    assert tuple(returned) == tuple(stored) == ("probe", MADE)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
@pytest.mark.parametrize("spec", [PLAIN, RETURNING, WITH_JSON], ids=["plain", "returning", "json"])
def test_the_statement_is_built_once_and_has_a_cache_key(spec: InsertOrSkip, dialect: str) -> None:
    statement = spec.statement(dialect)
    assert statement._generate_cache_key() is not None
    assert spec.statement(dialect) is statement
    assert InsertOrSkip(PROBES, spec.columns, spec.returning).statement(dialect) is statement  # equal specs
    assert "ON CONFLICT DO NOTHING" in str(statement)


def test_dialects_and_specs_get_statements_of_their_own() -> None:
    assert PLAIN.statement("postgresql") is not PLAIN.statement("sqlite")
    assert RETURNING.statement("sqlite") is not PLAIN.statement("sqlite")
    assert "RETURNING" in str(RETURNING.statement("sqlite")) and "RETURNING" not in str(
        PLAIN.statement("sqlite")
    )
