"""Complete simulated calls per second: the carrier simulator driving ivr in-process and against gunicorn.

Each call runs the sample profile (profiles/acme.json) through the sample flows: greeting, menus, the
queue, the survey and every status callback, all logged; the profile's agents on shift call the agent line,
sign in and take the queued callers (their requests count in requests/s, their calls not in calls/s).
In-process, the simulator and the app share one Python process (SQLite database in a temporary folder,
or PostgreSQL with --pg); with --jobs N the run is also split into N shards at quiet hours, each run in a
process of its own on a copy of the SQLite database merged back as it ends (`ivr traffic --jobs`); against
gunicorn, the simulator posts over loopback HTTP to ivr served by gunicorn on SQLite. The calls are spread
over --days simulated days from a Monday (default 2: one quiet night, so --jobs 2 gets two shards).

    .venv/bin/python benchmarks/simulator.py [--calls 400] [--days 2] [--jobs 2] [--workers 2]
                                             [--pg postgresql://...] [--no-http] [--json]

Prints per mode: calls/s and requests/s (wall), requests per call, the latency of a request (in-process:
wall time inside the app; over HTTP: the round trip), and CPU seconds split between the app (server) and
the simulator (client), also per request; goal: at least 200 complete calls/s in-process. CPU seconds
matter on a shared machine, where wall time also counts what others run. Bounded by --calls; starts and
stops its own server on a free loopback port.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flask import Flask  # noqa: E402
from sqlalchemy import text  # noqa: E402
from webhooks import (  # noqa: E402
    Server,
    free_port,
    process_cpu,  # noqa: E402
)
from webhooks import machine as webhooks_machine  # noqa: E402

from ivr import create_app  # noqa: E402
from ivr.migrations.runner import upgrade  # noqa: E402
from ivr.sim import HttpTransport, VirtualClock, WsgiTransport  # noqa: E402
from ivr.sim.profile import load_profile  # noqa: E402
from ivr.sim.runner import run_shards, shard_processes, staffed  # noqa: E402
from ivr.sim.shards import plan  # noqa: E402
from ivr.sim.traffic import TrafficResult, run_traffic  # noqa: E402
from ivr.sim.transport import Reply, Transport  # noqa: E402

TOKEN = "benchmark-token"
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday, 8:00 in Chicago
DAYS = 2  # by default two simulated days: quiet hours between them let --jobs 2 split the run in two
SEED = 1
BASE = "http://ivr.bench"
SETTINGS = {
    "TWILIO_AUTH_TOKEN": TOKEN,
    "SECRET_KEY": "k" * 32,
    "FLOWS_DIR": str(ROOT / "flows"),
    "LOG_LEVEL": "WARNING",
    "FLOWS_WATCH": "1",  # publish the sample folder at start, as `ivr serve` does
}
PROFILE = ROOT / "profiles" / "acme.json"


@dataclass
class Run:
    """One mode's run: the result, wall seconds, requests, latencies and CPU seconds by side."""

    result: TrafficResult
    seconds: float
    requests: int
    latencies: list[float]
    cpu: dict[str, float]  # "app" (or "server") and "simulator" (or "client")
    processes: int = 1
    notes: list[str] = field(default_factory=list)
    failed_steps: int = 0  # steps the app logged as failed (each answered a fallback): none expected


class Counting:
    """A transport that counts the requests it passes on and times each (over HTTP: the round trip)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.count = 0
        self.latencies: list[float] = []

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """Count, then post."""
        self.count += 1
        began = time.perf_counter()
        reply = self.inner.post(url, params)
        self.latencies.append(time.perf_counter() - began)
        return reply


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def machine() -> dict[str, Any]:
    """CPU model, core count, Python version, and the load and time when the run began."""
    return webhooks_machine() | {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def cpu_of(pgid: int | None = None, name: str | None = None) -> float:
    """CPU seconds used so far by the processes of a process group (gunicorn), or of a name (postgres)."""
    found = process_cpu().values()
    return sum(seconds for group, command, seconds in found if group == pgid or command == name)


def logged_errors(app: Flask) -> int:
    """The errors the call log counts over all calls (a failed step, a fallback answer, adds one)."""
    with app.extensions["ivr.db"].engine.connect() as connection:
        return int(connection.execute(text("SELECT COALESCE(SUM(errors), 0) FROM calls")).scalar_one())


def in_process(url: str, calls: int, days: int = DAYS) -> Run:
    """`calls` calls with the app in this process, reading the simulator's clock."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, **SETTINGS})
    clock = VirtualClock(START)
    app.config["IVR_CLOCK"] = clock.now
    transport = WsgiTransport(app, TOKEN)
    transport.latencies = []
    try:
        errors = logged_errors(app)
        with staffed(app, load_profile(PROFILE)) as staff:
            database = cpu_of(name="postgres")
            began, cpu = time.perf_counter(), time.process_time()
            result = run_traffic(
                transport, BASE, load_profile(PROFILE), calls, clock, days, SEED, staff=staff
            )
            seconds, cpu_used = time.perf_counter() - began, time.process_time() - cpu
            database = cpu_of(name="postgres") - database
        errors = logged_errors(app) - errors
    finally:
        app.extensions["ivr.db"].engine.dispose()
    split = {"app": transport.app_cpu, "simulator": cpu_used - transport.app_cpu}
    notes = []
    if url.startswith("postgresql"):
        split["database"] = database
        notes.append("database: every postgres process of the machine meanwhile (others' too, if any)")
    return Run(
        result, seconds, transport.requests, transport.latencies, split, notes=notes, failed_steps=errors
    )


def in_shards(url: str, calls: int, jobs: int, days: int = DAYS) -> Run:
    """`calls` calls split into `jobs` shards, each in a process of its own (`ivr traffic --jobs`)."""
    shard_processes()  # as `ivr traffic` does: the fork server imports ivr while the run is got ready
    upgrade(url)
    app = create_app({"DATABASE_URL": url, **SETTINGS})  # publishes the flows; makes the agents
    profile = load_profile(PROFILE)
    shards = plan(profile, calls, START, days, SEED, jobs)
    settings = {"DATABASE_URL": url, **SETTINGS}
    try:
        errors = logged_errors(app)
        with staffed(app, profile) as staff:
            began, cpu = time.perf_counter(), time.process_time()
            result = run_shards(settings, TOKEN, profile, shards, staff, BASE, jobs, latencies=True)
            seconds, parent = time.perf_counter() - began, time.process_time() - cpu
        errors = logged_errors(app) - errors
    finally:
        app.extensions["ivr.db"].engine.dispose()
    loads = result.load
    app_cpu = sum(load.app_cpu_seconds for load in loads)
    total = parent + sum(load.cpu_seconds for load in loads)
    notes = [
        f"shard {n}: {len(s.arrivals)} calls, {load.wall_seconds:.1f} s wall, {load.cpu_seconds:.1f} s CPU"
        for n, (s, load) in enumerate(zip(shards, loads, strict=True))
    ]
    notes.append(
        "wall time includes starting each process (forked from the fork server, started with the benchmark),"
        " copying the database for each shard and merging the last one back"
    )
    return Run(
        result,
        seconds,
        sum(load.requests for load in loads),
        [latency for load in loads for latency in load.latencies],
        {"app": app_cpu, "simulator": total - app_cpu},
        processes=len(shards),
        notes=notes,
        failed_steps=errors,
    )


def over_http(url: str, calls: int, workers: int, days: int = DAYS) -> Run:
    """`calls` calls against ivr under gunicorn (which keeps its own, real clock)."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, **SETTINGS})  # makes the agents in the server's database
    server = Server(
        "ivr", "ivr:create_app()", free_port(), os.environ | {"DATABASE_URL": url, **SETTINGS}, workers
    )
    server.start()
    try:
        server.wait_ready()
        assert server.process is not None
        transport = Counting(HttpTransport(TOKEN))
        with staffed(app, load_profile(PROFILE)) as staff:
            served, cpu, began = cpu_of(server.process.pid), time.process_time(), time.perf_counter()
            result = run_traffic(
                transport,
                server.base,
                load_profile(PROFILE),
                calls,
                VirtualClock(START),
                days,
                SEED,
                staff=staff,
            )
            seconds = time.perf_counter() - began
            split = {"server": cpu_of(server.process.pid) - served, "client": time.process_time() - cpu}
        return Run(result, seconds, transport.count, transport.latencies, split, processes=workers)
    finally:
        server.stop()
        app.extensions["ivr.db"].engine.dispose()


def figures(run: Run) -> dict[str, Any]:
    """The figures of one run."""
    calls, requests = len(run.result.calls), run.requests
    errors = run.result.summary()["errors"]
    return {
        "calls": calls,
        "agent_calls": len(run.result.agent_legs),
        "errors": errors,
        "failed_steps_logged": run.failed_steps,
        "seconds": round(run.seconds, 2),
        "calls_per_second": round(calls / run.seconds, 1),
        "requests": requests,
        "requests_per_second": round(requests / run.seconds, 1),
        "requests_per_call": round(requests / calls, 1) if calls else 0.0,
        "p50_ms": round(percentile(run.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(run.latencies, 0.99) * 1000, 2),
        "cpu_seconds": {side: round(seconds, 2) for side, seconds in run.cpu.items()},
        "cpu_ms_per_request": {
            side: round(seconds * 1000 / requests, 3) for side, seconds in run.cpu.items()
        },
        "cpu_seconds_per_100_calls": round(sum(run.cpu.values()) * 100 / calls, 2) if calls else 0.0,
        "processes": run.processes,
        "notes": run.notes,
    }


def print_report(report: dict[str, Any]) -> None:
    """The human-readable figures."""
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, load {m['load_average']} at start;"
    )
    print(f"  {m['date']}; goal: at least 200 complete calls/s in-process")
    for name, f in report["modes"].items():
        latency = "in app" if name.startswith("in-process") else "round trip"
        sides = ", ".join(
            f"{side} {seconds:.1f} s ({f['cpu_ms_per_request'][side]:.2f} ms/request)"
            for side, seconds in f["cpu_seconds"].items()
        )
        rates = f"{f['calls_per_second']:6.1f} calls/s, {f['requests_per_second']:7.1f} requests/s"
        print(
            f"{name:<34} {f['calls']:5d} calls in {f['seconds']:6.1f} s: {rates} "
            f"({f['requests_per_call']} a call), {f['errors']} errors, {f['failed_steps_logged']} failed"
        )
        print(
            f"{'':<34} request p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms ({latency}); CPU: {sides}"
        )
        for note in f["notes"]:
            print(f"{'':<34} {note}")


def main() -> int:
    """Run the modes asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=2, help="processes of the sharded run (1: none)")
    parser.add_argument("--days", type=int, default=DAYS, help="simulated days the calls are spread over")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg", help="also run in-process on this PostgreSQL database (it is migrated)")
    parser.add_argument("--no-http", action="store_true", help="skip the run against gunicorn")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.jobs > 1:
        shard_processes()  # the shards' fork server starts with the benchmark, as its interpreter did
    report: dict[str, Any] = {"machine": machine(), "settings": vars(args), "modes": {}}
    modes = report["modes"]
    with tempfile.TemporaryDirectory() as folder:
        single = in_process(f"sqlite:///{folder}/a.sqlite3", args.calls, args.days)
        modes["in-process, SQLite"] = figures(single)
        if args.jobs > 1:
            sharded = in_shards(f"sqlite:///{folder}/c.sqlite3", args.calls, args.jobs, args.days)
            modes[f"in-process, SQLite, --jobs {args.jobs}"] = figures(sharded)
        if args.pg:
            modes["in-process, PostgreSQL"] = figures(in_process(args.pg, args.calls, args.days))
        if not args.no_http:
            served = over_http(f"sqlite:///{folder}/b.sqlite3", args.calls, args.workers, args.days)
            modes[f"gunicorn x{args.workers}, SQLite, over HTTP"] = figures(served)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
