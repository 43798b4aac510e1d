"""Webhook latency while people sign in: does a burst of password checks hold up Twilio's requests?

One run serves ivr with gunicorn (sync workers, SQLite in a temporary folder, the sample flows), creates a
user, then measures signed POST /voice/incoming requests one after another (a new call each): first alone,
then while `--signers` threads sign in over and over with the right password (GET /login for the form, POST
it; after a 429, again after its Retry-After). It prints, per phase, the webhooks' p50/p99/max latency, and
the sign-ins completed and answered 429 (no free password-check slot, docs/operations.md "Sign-ins and
webhooks"). Run it with the default SIGN_IN_SLOTS=1 and with --slots 8 (every worker may hash: as before the
slots) to see the difference.

    .venv/bin/python benchmarks/sign_ins.py [--seconds 10] [--signers 8] [--workers 2] [--slots 1]

Starts and stops its own server on a free loopback port; exit status 0.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhooks import LOOPBACK, Server, call_params, free_port  # noqa: E402

from ivr import create_app  # noqa: E402
from ivr.accounts.users import create_user  # noqa: E402
from ivr.migrations.runner import upgrade  # noqa: E402

TOKEN = "sign-in-bench-token"
PASSWORD = "a benchmark passphrase"
CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def prepare(folder: Path) -> dict[str, str]:
    """A migrated SQLite database with one user; the server's environment."""
    url = f"sqlite:///{folder / 'ivr.sqlite3'}"
    env = os.environ | {
        "DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "k" * 32,
        "FLOWS_DIR": str(ROOT / "flows"), "FLOWS_WATCH": "1", "LOG_LEVEL": "WARNING", "PROXY_FIX_HOPS": "0",
    }  # fmt: skip
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "FLOWS_DIR": str(ROOT / "flows")}, require_token=False)
    with app.app_context():
        from ivr.db import session

        create_user(session(), "bench", PASSWORD)
        session().commit()
    app.extensions["ivr.db"].engine.dispose()
    return env


def webhook_latencies(server: Server, seconds: float) -> list[float]:
    """Signed POST /voice/incoming, a new call each, one after another for `seconds`; each one's latency."""
    validator = RequestValidator(TOKEN)
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
    found: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        params = call_params(f"CA{os.urandom(16).hex()}", "+15125550199", status="ringing")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(server.base + "/voice/incoming", params),
        }
        started = time.monotonic()
        conn.request("POST", "/voice/incoming", urlencode(params), headers)
        response = conn.getresponse()
        response.read()
        found.append(time.monotonic() - started)
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}")
    conn.close()
    return found


def sign_in_forever(
    server: Server, stop: threading.Event, counts: dict[int, int], lock: threading.Lock
) -> None:
    """Sign in with the right password until stopped; count the answers by status."""
    while not stop.is_set():
        conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
        conn.request("GET", "/login")
        page = conn.getresponse()
        body = page.read()
        cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
        match = CSRF.search(body)
        if match is None:
            raise RuntimeError("no CSRF token on /login")
        form = urlencode({"username": "bench", "password": PASSWORD, "csrf_token": match.group(1).decode()})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        headers["Referer"] = server.base + "/"
        conn.request("POST", "/login", form, headers)
        answer = conn.getresponse()
        answer.read()
        conn.close()
        with lock:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        if answer.status == 429:  # as a person would: try again after the time the page asks for
            stop.wait(float(answer.getheader("Retry-After") or "1"))


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.99))
    return (
        f"{name:32} {len(ordered):6d} webhooks   p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--signers", type=int, default=8, help="threads signing in during the second phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--slots", type=int, default=1, help="SIGN_IN_SLOTS on the server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        env = prepare(Path(folder)) | {"SIGN_IN_SLOTS": str(args.slots), "SIGN_IN_LOCK_DIR": folder}
        server = Server("ivr", "ivr:create_app()", free_port(), env, args.workers)
        server.start()
        try:
            server.wait_ready()
            webhook_latencies(server, 1.0)  # warm up: flows published, connections open
            alone = webhook_latencies(server, args.seconds)
            stop, counts, lock = threading.Event(), {}, threading.Lock()
            signers = [
                threading.Thread(target=sign_in_forever, args=(server, stop, counts, lock), daemon=True)
                for _ in range(args.signers)
            ]
            for thread in signers:
                thread.start()
            time.sleep(0.5)
            busy = webhook_latencies(server, args.seconds)
            stop.set()
            for thread in signers:
                thread.join(30)
        finally:
            server.stop()
    setup = f"gunicorn: {args.workers} sync workers, SIGN_IN_SLOTS={args.slots}, SQLite"
    print(f"{setup}; {platform.platform()}, {os.cpu_count()} CPUs")
    print(summary("alone", alone))
    print(summary(f"with {args.signers} threads signing in", busy))
    signed, refused = counts.get(302, 0), counts.get(429, 0)
    rate = signed / args.seconds
    print(f"sign-ins meanwhile: {signed} signed in ({rate:.1f}/s), {refused} answered 429 at once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
