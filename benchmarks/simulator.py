"""Complete simulated calls per second: the carrier simulator driving ivr in-process and against gunicorn.

Each call runs the sample profile (profiles/acme.json) through the sample flows: greeting, menus, the
queue, the survey and every status callback, all logged; the profile's agents on shift call the agent line,
sign in and take the queued callers (their requests count in requests/s, their calls not in calls/s).
In-process, the simulator and the app share one Python process (SQLite database in a temporary folder,
or PostgreSQL with --pg); against gunicorn, the simulator posts over loopback HTTP to ivr served by
gunicorn on SQLite.

    .venv/bin/python benchmarks/simulator.py [--calls 400] [--workers 2] [--pg postgresql://...]

Prints calls/s and requests/s for each mode (goal: at least 200 complete calls/s in-process). Bounded by
--calls; starts and stops its own server on a free loopback port.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhooks import Server, free_port  # noqa: E402

from ivr import create_app  # noqa: E402
from ivr.migrations.runner import upgrade  # noqa: E402
from ivr.sim import HttpTransport, VirtualClock, WsgiTransport  # noqa: E402
from ivr.sim.profile import load_profile  # noqa: E402
from ivr.sim.runner import staffed  # noqa: E402
from ivr.sim.traffic import TrafficResult, run_traffic  # noqa: E402
from ivr.sim.transport import Reply, Transport  # noqa: E402

TOKEN = "benchmark-token"
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday, 8:00 in Chicago
SETTINGS = {
    "TWILIO_AUTH_TOKEN": TOKEN,
    "SECRET_KEY": "k" * 32,
    "FLOWS_DIR": str(ROOT / "flows"),
    "LOG_LEVEL": "WARNING",
    "FLOWS_WATCH": "1",  # publish the sample folder at start, as `ivr serve` does
}
Run = tuple[float, TrafficResult, int]


class Counting:
    """A transport that counts the requests it passes on."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.count = 0

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """Count, then post."""
        self.count += 1
        return self.inner.post(url, params)


def timed(app: Flask, transport: Counting, base: str, calls: int, clock: VirtualClock) -> Run:
    """Seconds taken by `calls` calls of the sample profile, the result and the requests made.

    The profile's agents (made in `app`'s database beforehand) take the callers through the agent line.
    """
    profile = load_profile(ROOT / "profiles" / "acme.json")
    with staffed(app, profile) as staff:
        began = time.perf_counter()
        result = run_traffic(transport, base, profile, calls, clock, 2, seed=1, staff=staff)
        return time.perf_counter() - began, result, transport.count


def in_process(url: str, calls: int) -> Run:
    """`calls` calls with the app in this process, reading the simulator's clock."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, **SETTINGS})
    clock = VirtualClock(START)
    app.config["IVR_CLOCK"] = clock.now
    try:
        return timed(app, Counting(WsgiTransport(app, TOKEN)), "http://ivr.bench", calls, clock)
    finally:
        app.extensions["ivr.db"].engine.dispose()


def over_http(url: str, calls: int, workers: int) -> Run:
    """`calls` calls against ivr under gunicorn (which keeps its own, real clock)."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, **SETTINGS})  # makes the agents in the server's database
    server = Server(
        "ivr", "ivr:create_app()", free_port(), os.environ | {"DATABASE_URL": url, **SETTINGS}, workers
    )
    server.start()
    try:
        server.wait_ready()
        return timed(app, Counting(HttpTransport(TOKEN)), server.base, calls, VirtualClock(START))
    finally:
        server.stop()
        app.extensions["ivr.db"].engine.dispose()


def report(name: str, elapsed: float, result: TrafficResult, requests: int) -> None:
    """One line of figures."""
    calls = len(result.calls)
    errors = sum(1 for _call, outcome in result.calls if not outcome.ok)
    rates = f"{calls / elapsed:7.1f} calls/s, {requests / elapsed:7.1f} requests/s"
    print(f"{name:<30} {calls:6d} calls in {elapsed:6.1f} s: {rates}, {errors} with errors")


def main() -> int:
    """Run the modes asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg", help="also run in-process on this PostgreSQL database (it is migrated)")
    args = parser.parse_args()
    cores = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {platform.machine()}, {cores}; goal: at least 200 complete calls/s in-process")
    with tempfile.TemporaryDirectory() as folder:
        report("in-process, SQLite", *in_process(f"sqlite:///{folder}/a.sqlite3", args.calls))
        if args.pg:
            report("in-process, PostgreSQL", *in_process(args.pg, args.calls))
        served = over_http(f"sqlite:///{folder}/b.sqlite3", args.calls, args.workers)
        report(f"gunicorn x{args.workers}, SQLite, over HTTP", *served)
    return 0


if __name__ == "__main__":
    sys.exit(main())
