"""The desk comparison over a large call log: `ivr.metrics.compare()` end to end on SQLite and PostgreSQL.

Generates CALLS call legs in bulk (sqlite3 executemany, PostgreSQL COPY; not the ORM), spread over 90 days
for the two sample desks (90% caller legs with every queue outcome, overflows, menu paths, segments, split
and directed assignments, survey scores, repeat callers; 10% agent legs), then times compare() in each
mode for the whole period and for one week.

    .venv/bin/python benchmarks/compare.py [--calls 1000000] [--runs 5] [--pg postgresql://...|--no-pg]
        [--sqlite-file PATH] [--reuse]

The PostgreSQL database (default test_metrics_bench on 127.0.0.1:5432) is created if missing and emptied;
the SQLite file lives in a temporary folder. Goal: at most 1 s per comparison over 1,000,000 calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from ivr.db import make_engine, utcnow  # noqa: E402
from ivr.engine import load_folder  # noqa: E402
from ivr.metrics import MetricSettings, compare, rollup, sql  # noqa: E402
from ivr.metrics.definitions import BREAKDOWN_SUMS, DeskSums  # noqa: E402
from ivr.migrations.runner import recreate  # noqa: E402

START = datetime(2026, 8, 3, tzinfo=UTC)
DAYS = 90
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test_metrics_bench"
COLUMNS = (
    "call_sid", "account_sid", "direction", "role", "from_number", "to_number", "status", "status_rank",
    "started_at", "ended_at", "duration", "flow", "node", "variables", "tries", "desk", "overflow_from",
    "path", "queued_at", "queue_time", "queue_result", "talk_time", "agent", "survey_score", "errors",
    "route_strategy", "assignment", "segment", "updated_at",
)  # fmt: skip
PATHS = [
    "language:1 > main_menu:1", "language:1 > main_menu:2", "language:1 > main_menu:3",
    "language:1 > main_menu:0", "language:2 > main_menu:1", "language:2 > main_menu:2", None,
]  # fmt: skip
RESULTS = ["bridged"] * 75 + ["hangup"] * 15 + ["leave"] * 5 + [None] * 5
# (segment, share of caller legs, how the desk is chosen): billing is split half and half by a sticky hash,
# general goes by schedule to either desk, the rest to one desk only
SEGMENTS = (
    ("billing", 0.40, "sticky"), ("general", 0.10, "schedule"), ("tech", 0.25, "local"),
    ("operator", 0.05, "local"), ("spanish", 0.20, "bpo"),
)  # fmt: skip


def route(rng: random.Random) -> tuple[str, str, str, str]:
    """A caller leg's segment, desk, route strategy and assignment."""
    roll, at = rng.random(), 0.0
    segment, _share, how = next(
        entry for entry in SEGMENTS if roll < (at := at + entry[1])
    ) if roll < sum(share for _s, share, _h in SEGMENTS) else SEGMENTS[-1]  # fmt: skip
    if how in ("sticky", "schedule"):
        desk = "local" if rng.random() < 0.5 else "bpo"
        return segment, desk, how, "split" if how == "sticky" else "directed"
    return segment, how, "fixed", "directed"


def legs(count: int, seed: int = 42) -> Iterator[tuple[Any, ...]]:
    """`count` call legs in time order: caller legs of both desks and agent legs."""
    rng = random.Random(seed)
    step = DAYS * 86400 / count
    variables = json.dumps({"lang": "en", "caller": "+15125550100"})
    for i in range(count):
        started = START + timedelta(seconds=i * step + rng.random() * step)
        desk = "local" if rng.random() < 0.5 else "bpo"
        if rng.random() < 0.1:  # an agent's leg on the agent line
            duration = rng.randint(60, 3600)
            yield (
                f"CA{i:032x}", "AC" + "0" * 32, "inbound", "agent", f"+1512555{rng.randint(0, 999):04d}",
                "+15125550199", "completed", 4, started, started + timedelta(seconds=duration), duration,
                None, None, "{}", "{}", desk, None, None, None, None, None, None, None, None, 0, None, None,
                None, started + timedelta(seconds=duration),
            )  # fmt: skip
            continue
        segment, desk, strategy, assignment = route(rng)
        result = rng.choice(RESULTS)
        overflow = "local" if desk == "bpo" and rng.random() < 0.06 else None
        wait = int(rng.expovariate(1 / (40 if desk == "local" else 70))) if result else None
        talk = (
            int(rng.expovariate(1 / (240 if desk == "local" else 330))) + 20 if result == "bridged" else None
        )
        score = rng.choice((1, 2, 3, 4, 5, 5, 4)) if talk and rng.random() < 0.4 else None
        duration = 30 + (wait or 0) + (talk or 0)
        yield (
            f"CA{i:032x}", "AC" + "0" * 32, "inbound", "caller", f"+1415{rng.randint(0, 199_999):07d}",
            "+15125550100", "completed", 4, started, started + timedelta(seconds=duration), duration,
            "main", "survey", variables, "{}", desk, overflow, rng.choice(PATHS),
            started + timedelta(seconds=25) if result else None, wait, result, talk,
            f"{rng.randint(1000, 1099)}" if talk else None, score, 0, strategy, assignment, segment,
            started + timedelta(seconds=duration),
        )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def fill_sqlite(path: Path, count: int) -> None:
    """Insert the legs with sqlite3's executemany in batches."""
    connection = sqlite3.connect(path)
    placeholders = ", ".join("?" * len(COLUMNS))
    statement = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    batch: list[tuple[Any, ...]] = []
    for row in legs(count):
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) == 50_000:
            connection.executemany(statement, batch)
            batch.clear()
    connection.executemany(statement, batch)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def fill_postgres(url: str, count: int) -> None:
    """COPY the legs into PostgreSQL, then VACUUM ANALYZE."""
    with psycopg.connect(url) as connection:
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY calls ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in legs(count):
                copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE calls")


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark database if it does not exist (never touches other databases)."""
    base, _, name = url.rpartition("/")
    if name in ("test", "postgres", ""):
        raise SystemExit(f"refusing to use the database {name!r}: give a benchmark database")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def count_legs(url: str) -> int:
    """How many call legs the database holds (0 when it has no calls table)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM calls")).scalar() or 0)
    except Exception:  # no database or no table yet
        return 0
    finally:
        engine.dispose()


def sample_site() -> Any:
    """The sample site, whose desks are compared."""
    bundle, problems = load_folder(ROOT / "flows")
    assert bundle is not None, problems
    return bundle.build()


PERIODS = {
    "whole period (90 days)": (None, None),
    "one week": (START + timedelta(days=60), START + timedelta(days=67)),
}
FROM_THE_CALLS = MetricSettings(service_level_seconds=30)  # thresholds the rollups are not built for


DEFAULTS = MetricSettings()


MODES = ("randomised", "adjusted", "raw")


def time_compare(
    url: str, runs: int, tag: str, settings: MetricSettings = DEFAULTS, modes: tuple[str | None, ...] = MODES
) -> dict[str, list[float]]:
    """Seconds per compare() call in each mode (None: the default rule): the whole period and one week."""
    site = sample_site()
    engine = make_engine(url)
    timings: dict[str, list[float]] = {}
    with Session(engine) as session:
        compare(session, site, "local", "bpo", None, None, settings)  # warm the caches once
        for mode in modes:
            for label, (since, until) in PERIODS.items():
                key = f"{label}, {mode or 'default'} mode, {tag}"
                for _ in range(runs):
                    began = time.perf_counter()
                    result = compare(session, site, "local", "bpo", since, until, settings, mode=mode)
                    timings.setdefault(key, []).append(time.perf_counter() - began)
                    session.rollback()
                offered = sum(d["offered"] for d in result["desks"].values())
                print(f"    {key}: {result['mode']}, {offered} offered calls in the comparison")
    engine.dispose()
    return timings


def timed(label: str, work: Any) -> Any:
    """Run work(), print how long it took, return its result."""
    began = time.perf_counter()
    result = work()
    print(f"    {label}: {time.perf_counter() - began:.2f} s")
    return result


def build_rollups(url: str) -> None:
    """Build the daily rollups after the bulk load (once, like an index)."""
    engine = make_engine(url)
    with Session(engine) as session:
        days = timed(
            "building the daily rollups after the bulk load", lambda: rollup.refresh(session, utcnow())
        )
        print(f"      ({len(days)} days)")
    engine.dispose()


def time_a_changed_day(url: str, runs: int) -> dict[str, list[float]]:
    """Surveys answered on the last day make it dirty: compare() reads that day from the calls, then a
    refresh rebuilds it."""
    site = sample_site()
    engine = make_engine(url)
    last = START + timedelta(days=DAYS - 1)
    timings: dict[str, list[float]] = {}
    with Session(engine) as session:
        surveys = text(
            "UPDATE calls SET survey_score = 5 WHERE id IN (SELECT id FROM calls WHERE started_at >= :day "
            "AND role = 'caller' AND queue_result = 'bridged' ORDER BY id LIMIT 1000)"
        )
        label = "up to 1,000 surveys answered on the last day (triggers mark it dirty)"
        changed = timed(label, lambda: session.execute(surveys, {"day": last}).rowcount)
        session.commit()
        print(f"      ({changed} calls changed)")
        for _ in range(runs):
            began = time.perf_counter()
            compare(session, site, "local", "bpo", None, None)
            timings.setdefault("whole period, one day dirty", []).append(time.perf_counter() - began)
            session.rollback()
        timed("refresh (rebuilds the dirty day)", lambda: rollup.refresh(session, utcnow()))
    engine.dispose()
    return timings


def report(backend: str, timings: dict[str, list[float]]) -> None:
    """Print median and best of each period."""
    for label, values in timings.items():
        print(
            f"  {backend:<10} {label:<58} median {statistics.median(values):.3f} s, "
            f"best {min(values):.3f} s, worst {max(values):.3f} s ({len(values)} runs)"
        )


def cpu_model() -> str:
    """The processor's name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def time_parts(url: str, site: Any) -> None:
    """Where the time of a whole-period comparison from the calls goes: each query, then Python."""
    engine = make_engine(url)
    desks, settings = ("local", "bpo"), MetricSettings()
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL work_mem = '{sql.WORK_MEM}'"))
            session.execute(text("SET LOCAL jit = off"))
        c = sql.CALLS.c
        bucket = sql.epoch_seconds(c.started_at) // sql.BUCKET_SECONDS
        path = func.coalesce(c.path, sql.NO_PATH)
        cell = [sql.segment_of(), sql.arm_of()]
        own = [c.desk.in_(desks)]
        everything: list[sql.Period] = [(None, None)]
        parts = {
            "sums per desk, 15-minute bucket and cell": lambda: sql._sliced(
                session, [bucket, *cell], own, settings, DeskSums.names()
            ),
            "sums per desk, menu path, cell and wait": lambda: sql._sliced(
                session, [path, *cell], [*own, c.role != "agent"], settings, BREAKDOWN_SUMS, by_wait=True
            ),
            "overflowed out (2 small queries)": lambda: (
                sql._overflowed_out(session, bucket, desks, everything),
                sql._overflowed_out(session, path, desks, everything),
            ),
            "repeat calls (LEAD over callers)": lambda: sql.repeated_calls(session, desks, everything, 7),
        }
        spent = 0.0
        for label, part in parts.items():
            began = time.perf_counter()
            part()
            took = time.perf_counter() - began
            spent += took
            print(f"      {label:<40} {took:.3f} s")
        session.rollback()
        began = time.perf_counter()
        compare(session, site, "local", "bpo", None, None, FROM_THE_CALLS)
        print(f"      {'compare() in all':<40} {time.perf_counter() - began:.3f} s (queries {spent:.3f} s)")
    engine.dispose()


def measure(url: str, runs: int) -> dict[str, list[float]]:
    """Every figure of one database: from the calls, rollups built, compare() on them, a changed day."""
    timings = time_compare(url, runs, "from the calls", FROM_THE_CALLS, (None,))
    time_parts(url, sample_site())
    build_rollups(url)
    timings |= time_compare(url, runs, "rollups built")
    timings |= time_a_changed_day(url, runs)
    return timings


def main() -> None:
    """Generate, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("IVR_BENCH_POSTGRES_URL", PG_DEFAULT))
    parser.add_argument("--no-pg", action="store_true", help="Only SQLite.")
    parser.add_argument("--no-sqlite", action="store_true", help="Only PostgreSQL.")
    parser.add_argument("--sqlite-file", help="The SQLite file to use (default: a temporary one).")
    parser.add_argument("--reuse", action="store_true", help="Keep databases that hold CALLS legs already.")
    args = parser.parse_args()
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}; {args.calls} call legs")  # fmt: skip
    results: dict[str, dict[str, list[float]]] = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(args.sqlite_file) if args.sqlite_file else Path(folder) / "bench.sqlite3"
            url = f"sqlite:///{path}"
            if not (args.reuse and count_legs(url) == args.calls):
                recreate(url)
                began = time.perf_counter()
                fill_sqlite(path, args.calls)
                print(f"  sqlite: generated in {time.perf_counter() - began:.1f} s")
            results["sqlite"] = measure(url, args.runs)
    if not args.no_pg:
        ensure_postgres_database(args.pg)
        if not (args.reuse and count_legs(args.pg) == args.calls):
            recreate(args.pg)
            began = time.perf_counter()
            fill_postgres(args.pg, args.calls)
            print(f"  postgresql: generated in {time.perf_counter() - began:.1f} s")
        engine = make_engine(args.pg)
        with engine.connect() as connection:
            print(f"  PostgreSQL {connection.execute(text('SHOW server_version')).scalar()}")
        engine.dispose()
        results["postgresql"] = measure(args.pg, args.runs)
    for backend, timings in results.items():
        report(backend, timings)


if __name__ == "__main__":
    main()
