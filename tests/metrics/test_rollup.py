"""Daily rollups of desk metrics: triggers mark changed days, reports stay exact (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from ivr.cli.main import main
from ivr.db import make_engine
from ivr.metrics import MetricSettings, compare, rollup, sql
from ivr.metrics.rollup import build_day, day_of, refresh
from ivr.metrics.tables import rollup_buckets, rollup_cells, rollup_days, rollup_dirty
from ivr.migrations.runner import downgrade, upgrade
from ivr.models import Call

from ..conftest import PG_URL
from .test_sql import DAY, NOW, SITE, at, leg, small_log

D = day_of(DAY)
RESULTS = ["bridged"] * 5 + ["hangup", "hangup", "leave", "queue-full", None]
PATHS = ["m:1", "m:2", "m:1 > n:3", None]
SEGMENTS = ["billing", "tech", None]
ASSIGNMENTS = ["split", "split", "directed", None]


def dirty(s: Session) -> set[int]:
    """The days marked dirty."""
    s.commit()
    return set(s.scalars(select(rollup_dirty.c.day)))


def clear(s: Session) -> None:
    s.execute(delete(rollup_dirty))
    s.commit()


def report(
    s: Session, since: datetime | None = None, until: datetime | None = None,
    options: dict[str, Any] | None = None, **settings: int,
) -> Any:  # fmt: skip
    s.commit()
    return compare(s, SITE, "local", "bpo", since, until, MetricSettings(**settings), **(options or {}))


def from_the_calls(
    s: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    options: dict[str, Any] | None = None,
) -> Any:
    """The report with every rollup ignored (no day counts as built)."""
    s.commit()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup, "clean_days", lambda *args: [])
        return compare(s, SITE, "local", "bpo", since, until, MetricSettings(), **(options or {}))


def every_way(first: dict[str, Any]) -> list[dict[str, Any]]:
    """The options of every mode available in a report's period, and of each segment either desk served."""
    ways: list[dict[str, Any]] = [{"mode": mode} for mode, how in first["modes"].items() if how["available"]]
    return ways + [{"segment": entry["segment"]} for entry in first["segments"]]


def tamper(s: Session, day: int, extra: int = 100) -> None:
    """Add `extra` offered calls to the local desk's first rollup bucket and cell of the day (no call
    changes): a report in any mode that reads the day's rollups shows them."""
    b, k = rollup_buckets.c, rollup_cells.c
    first = s.scalar(select(func.min(b.bucket)).where(b.day == day, b.desk == "local"))
    s.execute(update(rollup_buckets).where(b.day == day, b.desk == "local", b.bucket == first)
              .values(offered=b.offered + extra))  # fmt: skip
    cell = s.execute(select(k.segment, k.arm).where(k.day == day, k.desk == "local").limit(1)).one()
    s.execute(update(rollup_cells).where(k.day == day, k.desk == "local", k.segment == cell.segment,
                                         k.arm == cell.arm).values(offered=k.offered + extra))  # fmt: skip
    s.commit()


def test_triggers_mark_the_days_a_change_touches(session):
    clear(session)
    first = leg(session, "local", at(10), "bridged", 5, number="+1001")
    assert dirty(session) == {D}
    clear(session)
    first.node = "elsewhere"  # not read by the metrics
    first.status = "completed"
    assert dirty(session) == set()
    first.survey_score = 5
    assert dirty(session) == {D}
    assert session.scalar(select(func.count()).select_from(rollup_dirty)) == 1  # old and new day: once
    clear(session)
    for column, value in (("segment", "billing"), ("assignment", "split"), ("route_strategy", "sticky")):
        setattr(first, column, value)  # how the call reached its desk (migration 0007)
        assert dirty(session) == {D}, column
        clear(session)
    later = leg(session, "bpo", at(10, day=DAY + timedelta(days=3)), "bridged", 5, number="+1001")
    assert dirty(session) == {D + 3, D}  # its own day, and the day of the call it may make a repeat
    clear(session)
    leg(session, "bpo", at(10, day=DAY + timedelta(days=5)), role="agent", number="+1001")
    assert dirty(session) == {D + 5}  # an agent's leg never makes a repeat
    clear(session)
    between = leg(session, "local", at(9, day=DAY + timedelta(days=1)), "hangup", 40, number="+1001")
    assert dirty(session) == {D + 1, D}  # logged out of order: the call before it is the first one
    clear(session)
    session.delete(later)
    assert dirty(session) == {D + 3, D + 1}
    clear(session)
    first.started_at = at(10, day=DAY + timedelta(days=10))  # moved after `between`
    assert dirty(session) == {D, D + 10, D + 1}
    clear(session)
    session.execute(update(Call).where(Call.id == between.id).values(queue_result="bridged"))  # not the ORM
    assert dirty(session) == {D + 1}
    clear(session)
    leg(session, "local", DAY + timedelta(days=1, microseconds=-1), "bridged", 5, number="+2002")
    assert dirty(session) == {D}  # the last microsecond of a day is that day's


def test_a_report_reads_built_days_from_the_rollups_and_changed_days_from_the_calls(session):
    small_log(session)
    expected = from_the_calls(session, DAY, DAY + timedelta(days=1))
    assert D in refresh(session, NOW)
    assert dirty(session) == set()
    assert report(session, DAY, DAY + timedelta(days=1)) == expected
    tamper(session, D)
    assert report(session, DAY, DAY + timedelta(days=1))["desks"]["local"]["offered"] == 106  # the rollup
    call = session.scalars(select(Call).where(Call.started_at == at(15, 10))).one()
    call.survey_score = 4
    session.commit()
    changed = report(session, DAY, DAY + timedelta(days=1))
    assert changed["desks"]["local"]["offered"] == 6  # the day is dirty: read from the calls
    assert changed["desks"]["local"]["csat"] == 4.5
    assert refresh(session, NOW) == [D]
    assert report(session, DAY, DAY + timedelta(days=1)) == changed


@pytest.mark.parametrize(
    ("since", "until", "settings", "uses_rollup"),
    [
        (DAY, DAY + timedelta(days=1), {}, True),
        (None, None, {}, True),
        (DAY + timedelta(hours=12), DAY + timedelta(days=1), {}, False),  # part of the day: the calls
        (DAY, DAY + timedelta(hours=16), {}, False),
        (DAY, DAY + timedelta(days=1), {"service_level_seconds": 30}, False),  # other thresholds
        (DAY, DAY + timedelta(days=1), {"repeat_days": 3}, False),
    ],
)
def test_only_whole_clean_days_under_the_built_thresholds_come_from_the_rollups(
    session, since, until, settings, uses_rollup
):
    small_log(session)
    refresh(session, NOW)
    honest = report(session, since, until, **settings)["desks"]["local"]["offered"]
    tamper(session, D)
    assert (
        report(session, since, until, **settings)["desks"]["local"]["offered"] == honest + 100 * uses_rollup
    )


def random_leg(s: Session, rng: random.Random, day: int) -> Call:
    """A call leg of any kind on one of the days after DAY."""
    moment = DAY + timedelta(days=day, seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
    if rng.random() < 0.1:
        return leg(s, rng.choice(["local", "bpo"]), moment, role="agent", duration=rng.randrange(3600))
    result = rng.choice(RESULTS)
    desk = rng.choice(["local", "bpo", "bpo", None])
    answered = result == "bridged"
    return leg(
        s, desk, moment, result, rng.randrange(120) if result else None,
        talk=rng.randrange(600) if answered else None,
        score=rng.choice([None, 1, 3, 4, 5]) if answered else None, duration=rng.randrange(900),
        number=f"+1555{rng.randrange(25):04d}", overflow_from="local" if rng.random() < 0.1 else None,
        path=rng.choice(PATHS), queued=rng.random() < 0.5,
        role="callee" if rng.random() < 0.05 else "caller", segment=rng.choice(SEGMENTS),
        assignment=rng.choice(ASSIGNMENTS),
    )  # fmt: skip


def change(s: Session, rng: random.Random, call: Call) -> None:
    """Change one column the metrics read, or several calls of a number at once."""
    kind = rng.randrange(9)
    if kind == 0:
        call.started_at = DAY + timedelta(days=rng.randrange(9), seconds=rng.randrange(86400))
    elif kind == 1:
        call.from_number = f"+1555{rng.randrange(25):04d}"
    elif kind == 2:
        call.role = rng.choice(["caller", "caller", "callee", "agent"])
    elif kind == 3:
        call.desk, call.overflow_from = rng.choice(["local", "bpo", None]), rng.choice(["local", None])
    elif kind == 4:
        call.path, call.duration = rng.choice(PATHS), rng.randrange(900)
    elif kind == 5:
        call.queue_result, call.queue_time = rng.choice(RESULTS), rng.randrange(60)
    elif kind == 6:
        call.survey_score, call.talk_time = rng.choice([None, 1, 2, 5]), rng.randrange(600)
    elif kind == 7:  # how the call reached its desk (a backfill, say)
        call.segment, call.assignment = rng.choice(SEGMENTS), rng.choice(ASSIGNMENTS)
    else:  # one statement, many rows
        s.execute(
            update(Call).where(Call.from_number == call.from_number).values(survey_score=rng.choice([2, 4]))
        )
        s.expire_all()


def test_reports_stay_exact_while_calls_change(session):
    rng = random.Random(2026)
    legs = [random_leg(session, rng, rng.randrange(8)) for _ in range(160)]
    session.commit()
    periods = [
        (None, None),
        (DAY + timedelta(days=1), DAY + timedelta(days=5)),
        (DAY + timedelta(days=1, hours=10, minutes=30), DAY + timedelta(days=4, hours=15)),
        (DAY + timedelta(days=6), None),
    ]
    for round_ in range(6):
        if round_ % 2 == 0:
            refresh(session, NOW)
        for _ in range(12):
            roll = rng.random()
            if roll < 0.4:
                legs.append(random_leg(session, rng, rng.randrange(9)))
            elif roll < 0.6:
                session.delete(legs.pop(rng.randrange(len(legs))))
            else:
                change(session, rng, rng.choice(legs))
        session.commit()
        for i, (since, until) in enumerate(periods):
            expected = from_the_calls(session, since, until)
            assert report(session, since, until) == expected, (round_, since)
            ways = every_way(expected)  # and one other way, in turn
            options = ways[(round_ + i) % len(ways)]
            assert report(session, since, until, options) == from_the_calls(session, since, until, options), (
                round_, since, options
            )  # fmt: skip
    refresh(session, NOW)
    assert dirty(session) == set()
    ways = every_way(report(session))
    assert {"randomised", "adjusted", "raw"} <= {way.get("mode") for way in ways}
    for options in ({}, *ways):
        assert report(session, options=options) == from_the_calls(session, options=options), options


def test_a_new_call_turns_an_earlier_built_day_into_a_repeat(session):
    leg(session, "local", at(10), "bridged", 5, number="+1001")
    refresh(session, NOW)
    assert report(session, DAY, DAY + timedelta(days=1))["desks"]["local"]["repeated"] == 0
    leg(session, "bpo", at(9, day=DAY + timedelta(days=6)), "bridged", 5, number="+1001")
    assert report(session, DAY, DAY + timedelta(days=1))["desks"]["local"]["repeated"] == 1
    refresh(session, NOW)
    assert dirty(session) == set()
    assert report(session, DAY, DAY + timedelta(days=1))["desks"]["local"]["repeated"] == 1


def test_the_parts_of_a_period_left_to_read_from_the_calls():
    runs = [(D, D + 2), (D + 5, D + 6)]
    noon = DAY + timedelta(hours=12)
    assert rollup._gaps(None, None, runs) == [
        (None, DAY), (DAY + timedelta(days=2), DAY + timedelta(days=5)), (DAY + timedelta(days=6), None)
    ]  # fmt: skip
    assert rollup._gaps(DAY, DAY + timedelta(days=2), runs[:1]) == []
    assert rollup._gaps(noon - timedelta(days=1), noon + timedelta(days=6), runs) == [
        (noon - timedelta(days=1), DAY), (DAY + timedelta(days=2), DAY + timedelta(days=5)),
        (DAY + timedelta(days=6), noon + timedelta(days=6)),
    ]  # fmt: skip
    last = rollup.LAST_DAY
    assert rollup._gaps(None, None, [(last, last + 1)]) == [(None, rollup.start_of(last))]


def test_a_call_dated_at_the_end_of_the_calendar_is_built_alone(session):
    leg(session, "local", at(10), "bridged", 5)
    leg(session, "local", datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "bridged", 5)
    assert refresh(session, NOW) == [D, rollup.LAST_DAY]
    assert refresh(session, NOW, rebuild=True) == [D, rollup.LAST_DAY]
    # (a report would list every day from 2026 to 9999 in its day breakdown: compare the sums instead)
    _selection, found = rollup.aggregate(session, ("local", "bpo"), None, None, MetricSettings())
    assert found == sql.aggregate(session, ("local", "bpo"), [(None, None)], MetricSettings())
    assert sum(sums.answered for sums in found.buckets["local"].values()) == 2


def test_a_refresh_runs_on_the_clock_it_is_given(session):
    """Its `now` decides which days between built ones are filled in, and stamps the days built."""
    leg(session, "local", at(10), "bridged", 5)
    leg(session, "local", at(10, day=DAY + timedelta(days=3)), "bridged", 5)
    early = DAY + timedelta(hours=12)
    assert refresh(session, early) == [D, D + 3]  # days after tomorrow (D + 1) are not filled in yet
    assert refresh(session, NOW) == [D + 1, D + 2]
    built = dict(session.execute(select(rollup_days.c.day, rollup_days.c.built_at)).all())
    assert built == {D: early, D + 1: NOW, D + 2: NOW, D + 3: early}


def test_refresh_builds_only_what_needs_it(session):
    assert refresh(session, NOW) == []
    leg(session, "local", at(10), "bridged", 5)
    leg(session, "local", at(10, day=DAY + timedelta(days=3)), "bridged", 5)
    assert refresh(session, NOW) == [
        D,
        D + 1,
        D + 2,
        D + 3,
    ]  # the days between, without calls, are built empty
    assert refresh(session, NOW) == []
    assert refresh(session, NOW, rebuild=True) == [D, D + 1, D + 2, D + 3]
    session.execute(update(rollup_days).where(rollup_days.c.day == D + 1).values(service_level_seconds=30))
    session.commit()
    assert refresh(session, NOW) == [D + 1]  # built under other thresholds: built again


def postgresql_only(test: Any) -> Any:
    """Run on PostgreSQL only (on SQLite, one writer at a time keeps every change apart from a build)."""
    on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)(test)
    return pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IVR_TEST_POSTGRES_URL)")(on_postgresql)


def in_thread(work: Any) -> threading.Thread:
    """Start work() in a thread of its own."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def held_back(thread: threading.Thread) -> bool:
    """Whether the thread is still waiting half a second later."""
    thread.join(0.5)
    return thread.is_alive()


def waiting_build(engine: Any) -> threading.Thread:
    """Build day D (and commit) in a thread of its own, which an open transaction on calls holds back."""

    def build() -> None:
        with Session(engine) as builder:
            build_day(builder, D, NOW)
            builder.commit()

    thread = in_thread(build)
    assert held_back(thread)
    return thread


@postgresql_only
def test_a_change_to_calls_waits_for_a_build_in_progress(app, database_url, session):
    call = leg(session, "local", at(10), "bridged", 5)
    session.commit()
    engine = make_engine(database_url)

    def answer_the_survey() -> None:
        with Session(engine) as writer:
            writer.execute(update(Call).where(Call.id == call.id).values(survey_score=5))
            writer.commit()

    with Session(engine) as builder:
        build_day(builder, D, NOW)  # holds the lock until it commits
        writer = in_thread(answer_the_survey)
        assert held_back(writer)
        builder.commit()
    writer.join(10)
    assert not writer.is_alive()
    engine.dispose()
    assert dirty(session) == {D}  # the change came after the build: the day is read from the calls
    assert report(session, DAY, DAY + timedelta(days=1))["desks"]["local"]["csat"] == 5.0


@postgresql_only
def test_a_build_waits_for_a_callers_later_call_still_in_flight(app, database_url, session):
    engine = make_engine(database_url)
    later = Session(engine)
    later.add(
        Call(
            call_sid="CAlater",
            from_number="+1555",
            role="caller",
            started_at=DAY + timedelta(days=1, seconds=1),
        )
    )
    later.flush()  # the next call of the number, logged but not committed yet
    leg(session, "local", DAY + timedelta(hours=23, minutes=59, seconds=59), "bridged", 5, number="+1555")
    session.commit()  # an earlier call of the same number (another web host, clocks apart) commits first

    builder = waiting_build(engine)
    later.commit()
    later.close()
    builder.join(10)
    assert not builder.is_alive()
    engine.dispose()
    refresh(session, NOW)
    one_day = (DAY, DAY + timedelta(days=1))
    assert report(session, *one_day)["desks"]["local"]["repeated"] == 1
    assert report(session, *one_day) == from_the_calls(session, *one_day)


@postgresql_only
def test_writers_never_wait_behind_a_build_that_waits(app, database_url, session):
    engine = make_engine(database_url)
    long_writer = Session(engine)
    long_writer.add(Call(call_sid="CAlong", from_number="+1", started_at=at(9)))
    long_writer.flush()  # a transaction changing calls, still open

    builder = waiting_build(engine)

    def another_webhook() -> None:
        with Session(engine) as writer:
            writer.add(Call(call_sid="CAother", from_number="+2", started_at=at(10)))
            writer.commit()

    meanwhile = in_thread(another_webhook)
    meanwhile.join(5)
    went_through = not meanwhile.is_alive()
    long_writer.commit()
    long_writer.close()
    builder.join(10)
    assert not builder.is_alive()
    engine.dispose()
    assert went_through  # its change went through while the build was waiting


@postgresql_only
def test_a_build_that_cannot_get_the_lock_in_time_leaves_the_day_dirty(
    app, database_url, session, monkeypatch
):
    monkeypatch.setattr(rollup, "LOCK_WAIT_SECONDS", 0.2)
    leg(session, "local", at(10), "bridged", 5)
    session.commit()
    engine = make_engine(database_url)
    with Session(engine) as writer:
        writer.add(Call(call_sid="CAslow", from_number="+1", started_at=at(11)))
        writer.flush()  # a long transaction on calls
        assert refresh(session, NOW) == []
        assert dirty(session) == {D}
        writer.rollback()
    engine.dispose()
    assert refresh(session, NOW) == [D]


def test_a_report_reads_one_snapshot(session, database_url, monkeypatch):
    small_log(session)
    refresh(session, NOW)
    before = report(session)
    engine = make_engine(database_url)
    original = rollup.read

    def read_after_a_change(*args: Any) -> Any:
        with Session(engine) as other:  # commits between choosing the clean days and reading them
            other.execute(
                update(Call)
                .where(Call.started_at == at(15))
                .values(started_at=at(15, day=DAY + timedelta(days=2)))
            )
            other.commit()
            refresh(other, NOW)
        return original(*args)

    monkeypatch.setattr(rollup, "read", read_after_a_change)
    assert report(session) == before
    monkeypatch.setattr(rollup, "read", original)
    engine.dispose()
    assert report(session) == from_the_calls(session) != before


def test_the_migration_marks_the_days_of_existing_calls(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0004")
    engine = make_engine(url)
    with engine.begin() as connection:
        for moment in ("2026-11-23 10:00:00.000000", "2026-11-25 23:59:59.999999"):
            connection.execute(
                text(
                    "INSERT INTO calls (call_sid, account_sid, direction, role, from_number, to_number, "
                    "status, status_rank, started_at, variables, tries, errors) VALUES (:sid, '', 'inbound', "
                    "'caller', '+1', '+2', 'completed', 4, :at, '{}', '{}', 0)"
                ),
                {"sid": moment, "at": moment},
            )
    upgrade(url)
    with engine.connect() as connection:
        assert set(connection.scalars(select(rollup_dirty.c.day))) == {D, D + 2}
    engine.dispose()


def test_migration_0007_builds_every_day_again_and_watches_how_calls_reached_their_desk(tmp_path):
    url = f"sqlite:///{tmp_path / 'before_modes.sqlite3'}"
    upgrade(url, "0006")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO calls (call_sid, account_sid, direction, role, from_number, to_number, status, "
                "status_rank, started_at, variables, tries, errors) VALUES ('CA1', '', 'inbound', 'caller', "
                "'+1', '+2', 'completed', 4, '2026-11-23 10:00:00.000000', '{}', '{}', 0)"
            )
        )
        connection.execute(text("DELETE FROM rollup_dirty"))
        connection.execute(text(
            "INSERT INTO rollup_days VALUES (:day, 5, 20, 7, 2, '2026-11-24 00:00:00.000000')"), {"day": D}
        )  # fmt: skip
    upgrade(url)
    with engine.begin() as connection:
        assert set(connection.scalars(select(rollup_dirty.c.day))) == {D}
        assert connection.scalar(select(func.count()).select_from(rollup_days)) == 0
        connection.execute(text("DELETE FROM rollup_dirty"))
        connection.execute(text("UPDATE calls SET segment = 'billing'"))
        assert set(connection.scalars(select(rollup_dirty.c.day))) == {D}
    downgrade(url, "0006")
    upgrade(url)
    engine.dispose()


def test_the_rollup_command(env, session, runner):
    leg(session, "local", at(10), "bridged", 5)
    session.commit()
    first = runner.invoke(main, ["report", "rollup"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "built 1 day(s): 2026-11-23"
    assert runner.invoke(main, ["report", "rollup"]).output.strip() == "built 0 day(s)"
    assert "built 1 day(s)" in runner.invoke(main, ["report", "rollup", "--rebuild"]).output


def test_the_rollup_command_keeps_going_until_sigterm(env, session):
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "report", "rollup", "--every", "1"],
        env=os.environ | env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        leg(session, "local", at(10), "bridged", 5)
        session.commit()
        deadline = time.monotonic() + 30
        while dirty(session) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dirty(session) == set()
        assert session.scalar(select(func.count()).select_from(rollup_days)) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "built 1 day(s): 2026-11-23" in out


def sqlite_only(test: Any) -> Any:
    """Run on SQLite only (its one write lock is what every webhook waits for)."""
    return pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)(test)


@sqlite_only
def test_a_sqlite_build_reads_its_day_without_the_write_lock_and_misses_no_change(
    app, database_url, session, monkeypatch
):
    call = leg(session, "local", at(10), "bridged", 5)
    session.commit()
    path = make_engine(database_url).url.database
    real_keyed = sql.keyed
    during: list[str] = []

    def keyed(*args: Any, **kwargs: Any) -> Any:
        found = real_keyed(*args, **kwargs)
        if not during:  # a webhook writes while the build reads the day: the write lock is free
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE calls SET survey_score = 5 WHERE id = ?", (call.id,))
            other.execute("COMMIT")
            other.close()
            during.append("written")
        return found

    monkeypatch.setattr(sql, "keyed", keyed)
    assert refresh(session, NOW) == [D]
    assert during == ["written"]
    assert dirty(session) == {D}  # the change made during the read keeps its day dirty
    monkeypatch.undo()
    assert report(session) == from_the_calls(session)
    assert refresh(session, NOW) == [D] and dirty(session) == set()
    assert report(session) == from_the_calls(session)
