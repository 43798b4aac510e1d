"""Dialer pacing: the achieved calls per second, and the most calls in any one second, at a stub of Twilio.

For each budget (1, 10 and 50 calls per second by default) a campaign with enough contacts for --seconds of
calls runs through the real worker (`ivr.dialer.worker.Worker`, wall clock, sender threads) against a
local stub of the Calls API that answers 201 and notes when each request arrived. The database is SQLite
in a temporary folder, or PostgreSQL with --pg (the database is emptied).

    .venv/bin/python benchmarks/pacing.py [--rates 1 10 50] [--seconds 20] [--pg postgresql://...]

Prints, per rate: calls, achieved rate (calls - 1 over the time from the first to the last arrival) and
its difference from the budget (goal: within 2%), and the most arrivals in any one-second window (goal:
never above the budget). Exits 1 when a goal is missed. Bounded: each rate stops after its calls (or
--seconds x 3 of wall time); the stub listens on a free loopback port only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.db import make_engine  # noqa: E402
from ivr.dialer.rest import TwilioRest  # noqa: E402
from ivr.dialer.worker import Settings, Worker  # noqa: E402
from ivr.migrations.runner import recreate  # noqa: E402
from ivr.models import Campaign, Contact  # noqa: E402

ACCOUNT = "AC" + "0" * 32


class Stub:
    """Twilio's Calls.create, answered at once with a new CallSid; arrival times noted."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with stub.lock:
                    stub.arrivals.append(arrived)
                body = json.dumps({"sid": "CA" + secrets.token_hex(16), "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        """Requests so far."""
        with self.lock:
            return len(self.arrivals)


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now: the calling window stays open."""
    offset = datetime.now(UTC).hour - 12
    return f"Etc/GMT{'+' if offset >= 0 else '-'}{abs(offset)}"


def most_in_one_second(times: list[float]) -> int:
    """The most arrivals in any window [t, t + 1 s)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def run_rate(url: str, cps: float, seconds: float) -> dict[str, float]:
    """Dial a campaign at `cps` against a fresh stub; the figures."""
    recreate(url)
    calls = int(cps * seconds) + 1
    engine = make_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            Campaign.__table__.insert().returning(Campaign.__table__.c.id),  # type: ignore[attr-defined]
            {"name": f"pacing-{cps:g}", "flow": "main", "caller_id": "+15125550100", "desk": None,
             "window_start": "00:00", "window_end": "23:59", "default_timezone": None, "max_attempts": 1,
             "retry_seconds": {}, "machine_detection": "off", "machine_message": None, "max_cps": cps,
             "max_concurrent": calls + 1, "state": "running", "created_at": now, "updated_at": now},
        ).scalar_one()  # fmt: skip
        zone = noon_zone()
        conn.execute(
            Contact.__table__.insert(),  # type: ignore[attr-defined]
            [{"campaign_id": campaign_id, "phone": f"+1512555{i:04d}", "name": "", "timezone": zone,
              "variables": {}, "line": i + 2, "state": "pending", "attempts": 0, "created_at": now}
             for i in range(calls)],
        )  # fmt: skip
    stub = Stub()
    threads = max(4, math.ceil(cps / 5))
    settings = Settings(
        ACCOUNT, "token", "https://ivr.example.com", stub.url, cps=cps, batch=50, poll=0.2, threads=threads
    )
    worker = Worker(settings, engine, TwilioRest(ACCOUNT, "token", stub.url))
    runner = threading.Thread(target=worker.run)
    runner.start()
    deadline = time.monotonic() + seconds * 3 + 10
    while stub.count() < calls and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop.set()
    runner.join()
    stub.server.shutdown()
    engine.dispose()
    arrivals = sorted(stub.arrivals)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    achieved = (len(arrivals) - 1) / span if span else float("nan")
    return {
        "budget": cps,
        "calls": len(arrivals),
        "achieved": achieved,
        "difference_pct": (achieved / cps - 1) * 100,
        "most_in_one_second": most_in_one_second(arrivals),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 10.0, 50.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="calls for this many seconds per rate")
    parser.add_argument("--pg", help="PostgreSQL URL instead of a temporary SQLite database (emptied)")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import logging

    logging.basicConfig(level=logging.WARNING)
    sys.setswitchinterval(0.001)  # as `ivr dialer run` does
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        url = args.pg or f"sqlite:///{Path(folder) / 'pacing.sqlite3'}"
        print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}; {args.seconds:g} s of calls per rate")
        print(f"{'budget/s':>9} {'calls':>6} {'achieved/s':>11} {'diff':>7} {'max in 1 s':>11}")
        for cps in args.rates:
            row = run_rate(url, cps, args.seconds)
            good = abs(row["difference_pct"]) <= 2 and row["most_in_one_second"] <= cps
            ok = ok and good
            print(
                f"{cps:>9g} {row['calls']:>6} {row['achieved']:>11.3f} {row['difference_pct']:>6.2f}% "
                f"{row['most_in_one_second']:>11} {'' if good else '  <- missed'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
