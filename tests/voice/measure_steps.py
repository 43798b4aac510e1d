"""Per-request cost of the voice path in-process (Flask test client), and round trips per request kind on
PostgreSQL. Not a test (no timing in tests); run from the tree:
PYTHONPATH=. python tests/voice/measure_steps.py sqlite|postgresql [calls]
(PostgreSQL: the database i15_store_bench on 127.0.0.1, dropped and made again)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ivr import create_app
from ivr.migrations.runner import recreate
from tests.conftest import AUTH_TOKEN, OPEN, SAMPLE_FLOWS
from tests.twilio import CallDriver, TwilioClient
from tests.voice.roundtrips import RoundTrips

kind = sys.argv[1]
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 300
tmp = Path(tempfile.mkdtemp())
url = (
    f"sqlite:///{tmp / 'bench.sqlite3'}"
    if kind == "sqlite"
    else "postgresql://postgres@127.0.0.1:5432/i15_store_bench"
)
recreate(url)
shutil.copytree(SAMPLE_FLOWS, tmp / "flows")
app = create_app(
    {
        "TESTING": True,
        "DATABASE_URL": url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "PUBLIC_BASE_URL": "",
        "FLOWS_DIR": str(tmp / "flows"),
        "FLOWS_CHECK_SECONDS": 2,
        "FLOWS_WATCH": True,
        "SECRET_KEY": "bench-secret",
        "SERVER_NAME": "ivr.test",
        "PREFERRED_URL_SCHEME": "https",
        "IVR_CLOCK": lambda: OPEN,
        "JOURNAL_PATH": str(tmp / "journal.jsonl"),
        "SIGN_IN_LOCK_DIR": str(tmp),
        "WEBHOOK_DEADLINE_SECONDS": 10,
        "WEBHOOK_LOCK_TIMEOUT_SECONDS": 5,
        "WEBHOOK_DATABASE_RETRY_SECONDS": 0,
    }
)
twilio = TwilioClient(app.test_client(), AUTH_TOKEN, base="https://ivr.test")
counter = RoundTrips(app.extensions["ivr.db"].engine)
trips: dict[str, list[int]] = defaultdict(list)


def timed(label: str, work):  # type: ignore[no-untyped-def]
    with counter.counting():
        found = work()
    trips[label].append(counter.trips)
    return found


def one_call() -> None:
    call = CallDriver(twilio)
    timed("status ringing", lambda: twilio.status(call.sid, "ringing", 1))
    menu = timed("incoming", call.start)
    options = timed("step", lambda: call.press(menu, "1"))
    timed("step to a desk", lambda: call.press(options, "2"))
    timed("status completed", lambda: twilio.status(call.sid, "completed", 2, CallDuration="30"))


for _ in range(20):  # warm up: flows published, statements compiled
    one_call()
trips.clear()
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(calls):
    one_call()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
requests = calls * 5
print(
    f"{kind}: {calls} calls, {requests} requests: {wall / requests * 1000:.3f} ms wall, "
    f"{cpu / requests * 1000:.3f} ms CPU (this process) per request; {calls / wall:.1f} calls/s"
)
if kind == "postgresql":
    for label, counts in trips.items():
        print(f"  round trips, {label}: {sum(counts) / len(counts):.2f}")
app.extensions["ivr.db"].engine.dispose()
shutil.rmtree(tmp)
