"""Migration 0006's backfill over a large call log: the upgrade from 0005, timed on SQLite and PostgreSQL.

Generates CALLS call legs at revision 0005 in bulk (sqlite3 executemany, PostgreSQL COPY; not the ORM), each
caller leg with EVENTS timeline events like the engine's (route events as 0005 logged them: a sticky split,
then the Spanish callers' fixed route; hand-offs, overflows, prompts and the rest), then times the upgrade
to 0006, which fills route_strategy, assignment and segment from the events.

    .venv/bin/python benchmarks/backfill.py [--calls 1000000] [--events 12] [--pg postgresql://...|--no-pg]

The PostgreSQL database (default test_backfill_bench on 127.0.0.1:5432) is created if missing and emptied;
the SQLite file lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
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
from sqlalchemy import text  # noqa: E402

from benchmarks.compare import ensure_postgres_database  # noqa: E402
from ivr.db import make_engine  # noqa: E402
from ivr.migrations.runner import downgrade, recreate, upgrade  # noqa: E402

START = datetime(2026, 8, 3, tzinfo=UTC)
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test_backfill_bench"
CALL_COLUMNS = (
    "id", "call_sid", "account_sid", "direction", "role", "from_number", "to_number", "status", "status_rank",
    "started_at", "variables", "tries", "errors", "desk", "overflow_from", "path",
)  # fmt: skip
EVENT_COLUMNS = ("call_id", "at", "kind", "node", "data")
PATHS = ["language:1 > main_menu:1", "language:1 > main_menu:2", "language:2 > main_menu:1", None]
FILLER = ("node", {"type": "say", "flow": "main"})


Events = list[tuple[str, dict[str, Any]]]


def timeline(rng: random.Random, desk: str, path: str | None) -> Events:
    """The events of one caller leg that reached `desk` (routing events as revision 0005 logged them)."""
    events: Events = []
    first = "local" if desk == "bpo" and rng.random() < 0.05 else desk  # overflowed on arrival
    if path in ("language:1 > main_menu:1", "language:2 > main_menu:1"):  # billing: the split
        reason = f"sticky split (local 1, bpo 1): caller hash {rng.random():.3f} -> {first}"
        events.append(("route", {"desk": first, "strategy": "sticky", "reason": reason}))
    if path in ("language:1 > main_menu:2", "language:2 > main_menu:1"):  # support; Spanish: a fixed route
        events.append(("route", {"desk": first, "strategy": "fixed", "reason": "fixed desk"}))
    if first != desk:
        events.append(("overflow", {"desk": first, "to": desk, "reason": "3 waiting >= max_queue 3"}))
    events.append(("queue_entered", {"desk": desk, "queue": f"{desk}-desk"}))
    events.append(("queue_left", {"result": "bridged", "queue_time": rng.randint(0, 300)}))
    return events


def rows(count: int, per_call: int, seed: int = 42) -> Iterator[tuple[tuple[Any, ...], list[Any]]]:
    """(call row, its event rows) for `count` legs: 90% caller legs at a desk, 10% agent legs."""
    rng = random.Random(seed)
    step = 90 * 86400 / count
    for i in range(1, count + 1):
        started = START + timedelta(seconds=i * step)
        desk = "local" if rng.random() < 0.5 else "bpo"
        agent = rng.random() < 0.1
        path = None if agent else rng.choice(PATHS)
        call = (
            i, f"CA{i:032x}", "AC" + "0" * 32, "inbound", "agent" if agent else "caller",
            f"+1415{rng.randint(0, 199_999):07d}", "+15125550100", "completed", 4, started, "{}", "{}", 0,
            desk, None, path,
        )  # fmt: skip
        events = [] if agent else timeline(rng, desk, path)
        events = events[:1] + [FILLER] * max(0, per_call - len(events)) + events[1:]
        yield call, [(i, started, kind, "n", json.dumps(data)) for kind, data in events]


def _sqlite_value(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def fill_sqlite(path: Path, count: int, per_call: int) -> int:
    """Insert the legs and their events with sqlite3's executemany; the number of events."""
    connection = sqlite3.connect(path)
    calls = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
    events = f"INSERT INTO call_events ({', '.join(EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
    call_batch: list[tuple[Any, ...]] = []
    event_batch: list[tuple[Any, ...]] = []
    total = 0
    for call, its_events in rows(count, per_call):
        call_batch.append(tuple(_sqlite_value(v) for v in call))
        event_batch += [tuple(_sqlite_value(v) for v in event) for event in its_events]
        if len(call_batch) == 20_000:
            connection.executemany(calls, call_batch)
            connection.executemany(events, event_batch)
            total += len(event_batch)
            call_batch.clear()
            event_batch.clear()
    connection.executemany(calls, call_batch)
    connection.executemany(events, event_batch)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    return total + len(event_batch)


def fill_postgres(url: str, count: int, per_call: int) -> int:
    """COPY the legs and their events into PostgreSQL, then VACUUM ANALYZE; the number of events."""
    total = 0
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY calls ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
                for call, _events in rows(count, per_call):
                    copy.write_row(call)
            with cursor.copy(f"COPY call_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for _call, its_events in rows(count, per_call):
                    for event in its_events:
                        copy.write_row(event)
                        total += 1
            cursor.execute("SELECT setval('calls_id_seq', (SELECT max(id) FROM calls))")
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE calls")
        connection.execute("VACUUM ANALYZE call_events")
    return total


def run(url: str, fill: Any, count: int, per_call: int) -> None:
    """Load the log at 0005, time the upgrade, print what it filled."""
    recreate(url)
    downgrade(url, "0005")
    began = time.perf_counter()
    events = fill(count, per_call)
    print(f"  loaded {count} legs and {events} events in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    upgrade(url, "0006")
    print(f"  upgrade 0005 -> 0006: {time.perf_counter() - began:.1f} s")
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT route_strategy, assignment, count(*) FROM calls GROUP BY 1, 2 ORDER BY 3 DESC")
        ).all()
    engine.dispose()
    for strategy, assignment, n in found:
        print(f"    {strategy!s:10} {assignment!s:9} {n}")
    upgrade(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=12, help="events per caller leg (at least its routing)")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "backfill.sqlite3"
        print(f"SQLite ({sqlite3.sqlite_version}):")
        run(f"sqlite:///{path}", lambda n, e: fill_sqlite(path, n, e), args.calls, args.events)
    if not args.no_pg:
        ensure_postgres_database(args.pg)
        print("PostgreSQL:")
        run(args.pg, lambda n, e: fill_postgres(args.pg, n, e), args.calls, args.events)


if __name__ == "__main__":
    main()
