"""Webhook throughput of ivr against a bare Flask app, under the same signed Twilio load.

One run does everything and stops by itself:

1. drops and recreates a PostgreSQL database (default ``ivr_bench``), migrates it (``ivr.migrations.runner``);
2. serves ivr (``python -m gunicorn "ivr:create_app()"``, sync workers, the sample flows in ``flows/``,
   PUBLIC_BASE_URL set to the exact loopback address) and the bare app in ``benchmarks/bare_app.py``
   (fixed TwiML for any POST) with the same gunicorn settings, each on a free loopback port;
3. drives ivr with concurrent simulated calls: signed (X-Twilio-Signature), form-encoded requests with
   Twilio's parameters that start at POST /voice/incoming and follow whatever TwiML comes back (Gather
   action with digits 1, 2, 5, then 1; Enqueue waitUrl a few times, then its action with
   QueueResult=bridged; Record action and transcribeCallback; Dial action; Redirect), then end with a
   POST /voice/status (CallStatus=completed). Every request is recorded, and exactly the same requests
   (same paths, same bodies, signed for the bare app's URL) are replayed against the bare app, so the
   client does the same work for both. Every request carries a signed IvrSimulatedTime (``--at`` plus the
   call's own clock; ivr is served with IVR_SIMULATED_TIME=1 and no TWILIO_ACCOUNT_SID), so the sample's
   business hours (America/Chicago) give the same path whenever the benchmark runs: the queue by default
   (a Monday at 10:00), voicemail with an ``--at`` out of hours;
4. checks the ivr side: every response 200 (204 from the status and transcription callbacks), one
   ``calls`` row per call, at least one ``call_events`` row per request of each call, every status
   callback applied, no step that failed over to the fallback answer;
5. counts the round trips to PostgreSQL per request kind, deterministically: with the servers stopped,
   ``--round-trip-calls`` more calls are driven one at a time through ivr in this process (``create_app``
   on the same database, the same calls, after one unmeasured call) while SQLAlchemy's events count each
   statement (an executemany counts one), the BEGIN psycopg sends on its own before a transaction's first
   statement, and each COMMIT or ROLLBACK of a transaction the server has open;
6. prints, per target, requests, requests/s, p50 and p99 latency (also by request kind), the CPU time
   per request spent by the server's gunicorn group, PostgreSQL, this client and everything else (read
   from /proc: on a shared machine "other" shows how much a neighbour disturbed the run), the headline
   "server+DB CPU per request" of ivr (target <= 2.0 ms, aim 1.0), the round trips per request by kind,
   then the ivr/bare throughput ratio (goal: >= 0.6), the same ratio computed from CPU cost per request
   (steadier when the machine is busy), and the machine; ``--json`` prints the same figures as JSON too.

Run it from the repository root (exit status 0 when every check passed, 1 otherwise)::

    .venv/bin/python benchmarks/webhooks.py [--seconds 20 | --calls N] [--threads 8] [--workers 2]
        [--queue-waits 2] [--warmup-calls 8] [--pg-url postgresql://postgres@127.0.0.1:5432]
        [--db-name ivr_bench] [--at 2026-11-23T10:00:00] [--round-trip-calls 3] [--json]

Options:
    --seconds S       measure each target for S seconds (default 20); calls in progress then finish
    --calls N         instead, run exactly N calls per target (the bare app gets the same N calls)
    --threads T       concurrent simulated callers, each with its own connection (default 8)
    --workers W       gunicorn sync workers per target (default 2)
    --queue-waits Q   wait-URL requests per queued call before it is bridged (default 2)
    --warmup-calls K  unmeasured calls per target before measuring (default 8)
    --pg-url URL      PostgreSQL server to use, without a database name (loopback only)
    --db-name NAME    benchmark database, dropped and recreated on every run (default ivr_bench)
    --at TIME         the simulated time each call starts at, ISO 8601, America/Chicago unless it has an
                      offset (default 2026-11-23T10:00:00, a Monday morning: in the sample's hours)
    --round-trip-calls N  calls driven in-process to count round trips per request kind (default 3)
    --json            also print the figures as one JSON document

The client runs in this process (threads share the GIL) on the same machine as both servers, so its own
CPU use is part of every figure; it is the same for both targets, which is what the ratio relies on.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from ivr.voice.security import SIMULATED_TIME

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
TOKEN = "bench-auth-token-" + secrets.token_hex(8)
ACCOUNT = "AC" + "0" * 32
CALLED = "+15125550100"
GATHER_DIGITS = ("1", "2", "5")  # language: English, main menu: technical support, survey: 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_STEPS = 30  # requests per call, at most: a flow that loops is cut off here
GOAL = 0.6
CPU_TARGET_MS, CPU_AIM_MS = 2.0, 1.0  # server + PostgreSQL CPU per ivr request (issue 15)
CHICAGO = ZoneInfo("America/Chicago")  # the sample site's business hours are Chicago's
DEFAULT_AT = "2026-11-23T10:00:00"  # a Monday, 10:00 in Chicago: the sample desks are open
COUNTED_BASE = "http://ivr.bench"  # the in-process app's PUBLIC_BASE_URL, which the requests are signed for
ACTION_VERBS = frozenset({"Gather", "Enqueue", "Record", "Dial", "Redirect", "Hangup", "Reject", "Leave"})

Request = tuple[str, dict[str, str]]  # path (with query), form parameters
Script = Generator[Request, "ET.Element | None", None]


# ---------------------------------------------------------------------------------------------------------
# servers


def free_port() -> int:
    """A TCP port on the loopback address that is free right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A gunicorn process group serving one app on a loopback port."""

    name: str
    app: str
    port: int
    env: dict[str, str]
    workers: int
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    @property
    def base(self) -> str:
        """The base URL clients use (and ivr's PUBLIC_BASE_URL)."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start gunicorn in its own process group, logging to a temporary file."""
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        args = [sys.executable, "-m", "gunicorn", "--bind", f"{LOOPBACK}:{self.port}"]
        args += ["--workers", str(self.workers), "--worker-class", "sync", "--log-level", "warning"]
        self.process = subprocess.Popen(
            [*args, *self.extra, self.app],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the server answers HTTP (any status), or raise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited early\n{self.output()}")
            try:
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name}: not answering after {timeout:.0f} s\n{self.output()}")

    def output(self) -> str:
        """What gunicorn logged so far (the last 20 lines)."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return "\n".join(self.log.read().decode("utf-8", "replace").splitlines()[-20:])

    def stop(self) -> None:
        """Terminate the whole process group (master and workers); kill it if it lingers."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the master leads its own group
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # stray workers of a group whose master is gone
            os.killpg(pgid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()


def prepare_database(pg_url: str, name: str) -> str:
    """Drop and recreate the benchmark database, migrate it, and return its URL."""
    parts = urlsplit(pg_url)
    if parts.hostname not in (LOOPBACK, "localhost", "::1"):
        raise SystemExit(f"--pg-url must be a loopback address, not {parts.hostname!r}")
    with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{pg_url.rstrip('/')}/{name}"
    from ivr.migrations.runner import upgrade

    upgrade(url)
    command = str(Path(sys.executable).parent / "ivr")
    publish = [command, "flows", "publish", str(ROOT / "flows"), "--if-empty"]
    subprocess.run(publish, env=os.environ | {"DATABASE_URL": url}, check=True, capture_output=True)
    return url


# ---------------------------------------------------------------------------------------------------------
# simulated calls


def call_params(sid: str, caller: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
    """The parameters Twilio sends on every voice request of a call."""
    return {
        "CallSid": sid, "AccountSid": ACCOUNT, "From": caller, "To": CALLED, "CallStatus": status,
        "Direction": "inbound", "ApiVersion": "2010-04-01", "Caller": caller, "Called": CALLED,
    } | extra  # fmt: skip


def first_action(root: ET.Element) -> ET.Element | None:
    """The first verb that decides what Twilio does next (Say, Play and Pause just play)."""
    return next((verb for verb in root if verb.tag in ACTION_VERBS), None)


def call_script(number: int, queue_waits: int, at: datetime) -> Script:
    """One caller following ivr's TwiML generically; receives each parsed answer (None when it failed).

    Every request is signed with its simulated time (IvrSimulatedTime): `at` plus the call's own clock, so
    the path through the flows does not depend on when the benchmark runs.
    """
    sid = "CA" + uuid.uuid4().hex
    caller = f"+1512555{number % 10000:04d}"
    presses = itertools.chain(GATHER_DIGITS, itertools.repeat("1"))
    seconds = 5  # the call's clock, in Twilio's parameters

    def signed(status: str = "in-progress", **extra: str) -> dict[str, str]:
        moment = (at + timedelta(seconds=seconds)).isoformat()
        return call_params(sid, caller, status, **extra) | {SIMULATED_TIME: moment}

    url = "/voice/incoming"
    root = yield url, signed("ringing")
    for _ in range(MAX_STEPS):
        verb = first_action(root) if root is not None else None
        if verb is None or verb.tag in ("Hangup", "Reject", "Leave"):
            break
        action = verb.get("action") or url
        if verb.tag == "Gather":
            seconds += 6
            url = action
            root = yield url, signed(Digits=next(presses))
        elif verb.tag == "Enqueue":
            queue_sid = "QU" + uuid.uuid4().hex
            result, waited = "bridged", 0
            wait_url = verb.get("waitUrl")
            for i in range(queue_waits if wait_url else 0):
                wait = signed(
                    QueueSid=queue_sid, QueueTime=str(waited),
                    QueuePosition=str(queue_waits - i), CurrentQueueSize=str(queue_waits - i),
                    AvgQueueTime="40", MaxQueueSize="100",
                )  # fmt: skip
                answer = yield str(wait_url), wait
                if answer is not None and answer.find("Leave") is not None:
                    result = "leave"
                    break
                waited += 30
            seconds += waited + 180
            url = action
            root = yield (
                url,
                signed(QueueResult=result, QueueSid=queue_sid, QueueTime=str(waited)),
            )
        elif verb.tag == "Record":
            length = 14
            seconds += length + 10
            rec_sid = "RE" + uuid.uuid4().hex
            rec_url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec_sid}"
            recording = {"RecordingUrl": rec_url, "RecordingSid": rec_sid, "RecordingDuration": str(length)}
            url = action
            root = yield url, signed(Digits="hangup", **recording)
            callback = verb.get("transcribeCallback")
            if callback and verb.get("transcribe") == "true":
                text = {"TranscriptionText": "Hi, please call me back.", "TranscriptionStatus": "completed"}
                yield callback, signed("completed", **recording, **text)
        elif verb.tag == "Dial":
            seconds += 120
            url = action
            dial = {
                "DialCallStatus": "completed",
                "DialCallDuration": "110",
                "DialCallSid": "CA" + uuid.uuid4().hex,
            }
            root = yield url, signed(**dial)
        else:  # Redirect
            url = (verb.text or "").strip() or url
            root = yield url, signed()
    ended = formatdate((at + timedelta(seconds=seconds)).timestamp(), usegmt=True)
    end = {"SequenceNumber": "0", "CallDuration": str(seconds), "Timestamp": ended}
    yield "/voice/status", signed("completed", **end)


def replay(requests: list[Request]) -> Script:
    """The recorded requests of one call, sent again as they were (the answers are parsed, not followed)."""
    for request in requests:  # noqa: UP028  (send() into `yield from` a list would fail)
        yield request


def request_kind(path: str) -> str:
    """A short label for a webhook path: incoming, input, wait, result, status, transcription."""
    parts = urlsplit(path).path.strip("/").split("/")
    if len(parts) >= 2 and parts[1] == "step":
        return parts[-1]
    return parts[-1] if parts else "?"


@dataclass
class CallRecord:
    """What the client sent in one call and how each request was answered."""

    requests: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@dataclass
class Outcome:
    """The figures of one load run against one target."""

    calls: list[CallRecord] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_other: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Requests sent."""
        return len(self.latencies)


def sign_for(
    base: str, validator: RequestValidator, url: str, params: dict[str, str]
) -> tuple[str, str] | None:
    """The path on `base` to post `url` to and its X-Twilio-Signature; None when `url` is on another host."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != urlsplit(base).netloc:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path, validator.compute_signature(base + path, params)


def not_sent(url: str) -> tuple[int, bytes]:
    """What a client answers for a URL outside its target, instead of posting it."""
    return 0, f"not sent: the TwiML points outside the target: {url}".encode()


class Client:
    """One simulated caller's connection to a target: signs, posts and parses."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        assert parts.hostname == LOOPBACK and parts.port
        self.base = base
        self.conn = http.client.HTTPConnection(LOOPBACK, parts.port, timeout=30)
        self.validator = RequestValidator(TOKEN)

    def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        """POST signed form data to a path or to an absolute URL on this target; (status, body)."""
        signed = sign_for(self.base, self.validator, url, params)
        if signed is None:
            return not_sent(url)
        path, signature = signed
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        try:
            self.conn.request("POST", path, body=urlencode(params), headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return 0, f"{type(exc).__name__}: {exc}".encode()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class Poster(Protocol):
    """What run_call sends requests through: a Client over HTTP, or an in-process one."""

    def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        """POST signed form data; (status, body)."""
        ...


def run_call(client: Poster, script: Script, outcome: Outcome, name: str) -> CallRecord:
    """Send one call's requests in order, timing each; failures are noted, and the call goes on."""
    record = CallRecord()
    request: Request | None = next(script)
    while request is not None:
        url, params = request
        started = time.perf_counter()
        status, body = client.post(url, params)
        outcome.latencies.append(time.perf_counter() - started)
        outcome.kinds.append(request_kind(url))
        parts = urlsplit(url)
        record.requests.append((parts.path + (f"?{parts.query}" if parts.query else ""), params))
        record.statuses.append(status)
        root: ET.Element | None = None
        if status == 200:
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                status = -1
        ok = (status == 200 and root is not None and root.tag == "Response") or status == 204
        if not ok:
            snippet = body[:200].decode("utf-8", "replace").strip()
            outcome.failures.append(f"{name}: POST {urlsplit(url).path} -> {status}: {snippet}")
            root = None
        try:
            request = script.send(root)
        except StopIteration:
            request = None
    return record


def run_load(
    base: str, name: str, threads: int, next_script: Callable[[], Script | None], max_calls: int
) -> Outcome:
    """Run calls from next_script on `threads` concurrent clients until it returns None; merge the figures."""
    per_thread = [Outcome() for _ in range(threads)]
    lock = threading.Lock()
    counter = itertools.count()

    def worker(outcome: Outcome) -> None:
        client = Client(base)
        try:
            while True:
                with lock:
                    script = next_script() if next(counter) < max_calls else None
                if script is None:
                    return
                outcome.calls.append(run_call(client, script, outcome, name))
        except Exception as exc:  # a bug in the driver: noted as a failure, the other threads go on
            outcome.failures.append(f"{name}: client thread stopped: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(o,), daemon=True) for o in per_thread]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    merged = Outcome(elapsed=time.perf_counter() - started)
    for outcome in per_thread:
        merged.calls += outcome.calls
        merged.latencies += outcome.latencies
        merged.kinds += outcome.kinds
        merged.failures += outcome.failures
    return merged


def process_cpu() -> dict[int, tuple[int, str, float]]:
    """CPU seconds used so far by every process: pid -> (process group, command name, seconds)."""
    found: dict[int, tuple[int, str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:  # the process is gone
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is stat's field 3 (state)
        found[int(entry.name)] = (int(fields[2]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def cpu_split(
    before: dict[int, tuple[int, str, float]], after: dict[int, tuple[int, str, float]], server_pgid: int
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds used between two snapshots by the server, PostgreSQL, this client and the rest; the
    rest's busiest commands."""
    split = {"server": 0.0, "postgres": 0.0, "client": 0.0, "other": 0.0}
    others: dict[str, float] = {}
    for pid, (pgrp, name, seconds) in after.items():
        used = seconds - (before[pid][2] if pid in before else 0.0)
        if pgrp == server_pgid:
            split["server"] += used
        elif name == "postgres":
            split["postgres"] += used
        elif pid == os.getpid():
            split["client"] += used
        else:
            split["other"] += used
            others[name] = others.get(name, 0.0) + used
    busiest = sorted(others.items(), key=lambda item: -item[1])[:4]
    return (
        {group: round(seconds, 2) for group, seconds in split.items()},
        {name: round(seconds, 2) for name, seconds in busiest if seconds >= 0.01},
    )


def metered(server: Server, run: Callable[[], Outcome]) -> Outcome:
    """Run a load and note where the machine's CPU time went meanwhile."""
    assert server.process is not None
    before = process_cpu()
    outcome = run()
    outcome.cpu, outcome.cpu_other = cpu_split(before, process_cpu(), server.process.pid)
    return outcome


# ---------------------------------------------------------------------------------------------------------
# round trips to the database, counted in-process


ROUND_TRIP_PARTS = ("statements", "begin", "commit", "rollback")


def _in_transaction(dbapi: Any) -> bool:
    """Whether the DBAPI connection has a transaction open on the server (psycopg; sqlite3 alike)."""
    info = getattr(dbapi, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return int(info.transaction_status) != 0  # TransactionStatus.IDLE
    return bool(getattr(dbapi, "in_transaction", False))


def _begins(dbapi: Any, statement: str) -> bool:
    """Whether the driver sends BEGIN before this statement (its own round trip with psycopg)."""
    if getattr(dbapi, "autocommit", False) is True or _in_transaction(dbapi):
        return False
    if hasattr(dbapi, "pgconn"):
        return True
    return statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE")


class RoundTripCounter:
    """Round trips an engine makes, from its events: each statement (an executemany counts 1), the BEGIN the
    driver sends before a transaction's first statement, and each COMMIT or ROLLBACK of an open transaction
    (one with nothing sent is not on the wire). Work done on a raw DBAPI connection is not seen."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: Counter[str] = Counter()
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (engine, "before_cursor_execute", self._statement),
            (engine, "commit", self._commit),
            (engine, "rollback", self._rollback),
            (engine.pool, "reset", self._reset),
        ]
        for target, name, listener in self._listeners:
            event.listen(target, name, listener)

    def close(self) -> None:
        """Stop counting."""
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)

    def snapshot(self) -> Counter[str]:
        """The counts so far."""
        return Counter(self.counts)

    def _statement(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if _begins(cursor.connection, statement):
            self.counts["begin"] += 1
        self.counts["statements"] += 1

    def _ended(self, conn: Any, kind: str) -> None:
        if _in_transaction(conn.connection.dbapi_connection):
            self.counts[kind] += 1

    def _commit(self, conn: Any) -> None:
        self._ended(conn, "commit")

    def _rollback(self, conn: Any) -> None:
        self._ended(conn, "rollback")

    def _reset(self, dbapi: Any, *_args: Any) -> None:
        if _in_transaction(dbapi):  # the pool's rollback of a connection given back mid-transaction
            self.counts["rollback"] += 1


class WsgiClient:
    """Client's in-process twin: signs for `base` (the app's PUBLIC_BASE_URL) and posts through the app."""

    def __init__(self, app: Any, base: str) -> None:
        self.client = app.test_client()
        self.base = base
        self.validator = RequestValidator(TOKEN)

    def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        """POST signed form data to a path or to an absolute URL on `base`; (status, body)."""
        signed = sign_for(self.base, self.validator, url, params)
        if signed is None:
            return not_sent(url)
        path, signature = signed
        response = self.client.post(
            path,
            data=urlencode(params),
            headers={"X-Twilio-Signature": signature},
            content_type="application/x-www-form-urlencoded",
        )
        return response.status_code, response.get_data()


@dataclass
class CountingClient:
    """Posts through another client, noting each request's kind and the round trips it took."""

    inner: Poster
    counter: RoundTripCounter
    counted: list[tuple[str, Counter[str]]] = field(default_factory=list)

    def post(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        """Post, and note (kind, round trips by part)."""
        before = self.counter.snapshot()
        answer = self.inner.post(url, params)
        self.counted.append((request_kind(url), self.counter.snapshot() - before))
        return answer


def in_process_app(db_url: str) -> Any:
    """ivr as the benchmark serves it (simulated time allowed, no Twilio account), in this process.

    The flows are read once (FLOWS_CHECK_SECONDS is an hour): the servers' check every 2 s per worker is a
    round trip no single request can be charged with.
    """
    from ivr import create_app

    return create_app(
        {
            "DATABASE_URL": db_url,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_ACCOUNT_SID": "",
            "SIMULATED_TIME": True,
            "PUBLIC_BASE_URL": COUNTED_BASE,
            "FLOWS_DIR": str(ROOT / "flows"),
            "FLOWS_CHECK_SECONDS": 3600,
            "SECRET_KEY": secrets.token_hex(16),
            "LOG_LEVEL": "WARNING",
            "PROXY_FIX_HOPS": 0,
        }
    )


def count_round_trips(app: Any, calls: int, queue_waits: int, at: datetime) -> dict[str, Any]:
    """Drive `calls` calls one after another through the app in-process (after one unmeasured call that
    opens connections and reads the flows) and average the round trips of each request kind."""
    engine: Engine = app.extensions["ivr.db"].engine
    counter = RoundTripCounter(engine)
    try:
        client = CountingClient(WsgiClient(app, COUNTED_BASE), counter)
        outcome = Outcome()
        run_call(client, call_script(900_000, queue_waits, at), outcome, "in-process")
        client.counted.clear()
        for number in range(calls):
            run_call(client, call_script(900_001 + number, queue_waits, at), outcome, "in-process")
    finally:
        counter.close()
    by_kind: dict[str, list[Counter[str]]] = {}
    for kind, counts in client.counted:
        by_kind.setdefault(kind, []).append(counts)

    def mean(samples: list[Counter[str]]) -> dict[str, Any]:
        parts = {part: round(sum(c[part] for c in samples) / len(samples), 2) for part in ROUND_TRIP_PARTS}
        total = sum(sum(c[part] for part in ROUND_TRIP_PARTS) for c in samples) / len(samples)
        return {"requests": len(samples), "round_trips": round(total, 2)} | parts

    every = [counts for _kind, counts in client.counted]
    return {
        "calls": calls,
        "per_request": mean(every) if every else {},
        "by_kind": {kind: mean(samples) for kind, samples in sorted(by_kind.items())},
        "failures": outcome.failures,
    }


def live_scripts(deadline: float | None, queue_waits: int, at: datetime) -> Callable[[], Script | None]:
    """New generic callers until the deadline (if any)."""
    numbers = itertools.count(1)

    def make() -> Script | None:
        if deadline is not None and time.monotonic() >= deadline:
            return None
        return call_script(next(numbers), queue_waits, at)

    return make


def replayed_scripts(calls: list[CallRecord], deadline: float | None) -> Callable[[], Script | None]:
    """The recorded calls replayed in order (cycling until the deadline, or once through without one)."""
    source: Iterator[CallRecord] = itertools.cycle(calls) if deadline is not None else iter(calls)

    def make() -> Script | None:
        if deadline is not None and time.monotonic() >= deadline:
            return None
        record = next(source, None)
        return replay(record.requests) if record is not None else None

    return make


# ---------------------------------------------------------------------------------------------------------
# checks and figures


def check_call_log(url: str, calls: list[CallRecord]) -> tuple[dict[str, int], list[str]]:
    """Compare ivr's call log with what the client sent; (counts, problems)."""
    problems: list[str] = []
    sent: dict[str, int] = {}
    statuses_sent = 0
    for call in calls:
        sid = call.requests[0][1]["CallSid"]
        sent[sid] = sum(1 for status in call.statuses if status in (200, 204))
        answered = zip(call.requests, call.statuses, strict=True)
        statuses_sent += sum(1 for (path, _), status in answered if path == "/voice/status" and status == 204)
    with psycopg.connect(url) as conn:
        calls_rows = conn.execute("SELECT count(*) FROM calls").fetchone()[0]  # type: ignore[index]
        events_rows = conn.execute("SELECT count(*) FROM call_events").fetchone()[0]  # type: ignore[index]
        kinds: dict[str, int] = dict(
            conn.execute("SELECT kind, count(*) FROM call_events GROUP BY kind").fetchall()
        )
        errors = conn.execute("SELECT coalesce(sum(errors), 0) FROM calls").fetchone()[0]  # type: ignore[index]
        completed = conn.execute(
            "SELECT count(*) FROM calls WHERE status = 'completed' AND ended_at IS NOT NULL"
        ).fetchone()[0]  # type: ignore[index]
        per_call: dict[str, int] = dict(
            conn.execute(
                "SELECT c.call_sid, count(e.id) FROM calls c LEFT JOIN call_events e ON e.call_id = c.id "
                "GROUP BY c.call_sid"
            ).fetchall()
        )
    requests_ok = sum(sent.values())
    if calls_rows != len(sent):
        problems.append(f"calls: {calls_rows} rows for {len(sent)} calls made")
    missing = [sid for sid in sent if sid not in per_call]
    if missing:
        problems.append(f"{len(missing)} calls have no row, e.g. {missing[:3]}")
    short = [sid for sid, n in sent.items() if per_call.get(sid, 0) < n]
    if short:
        sid = short[0]
        problems.append(
            f"{len(short)} calls have fewer events than answered requests, e.g. {sid}: "
            f"{per_call.get(sid, 0)} events for {sent[sid]} requests"
        )
    if kinds.get("status", 0) != statuses_sent:
        problems.append(f"status events: {kinds.get('status', 0)} for {statuses_sent} status callbacks")
    if completed != statuses_sent:
        problems.append(f"calls completed: {completed} for {statuses_sent} 'completed' status callbacks")
    if errors or kinds.get("error"):
        problems.append(
            f"steps failed over to the fallback: errors={errors}, error events={kinds.get('error', 0)}"
        )
    counts = {
        "calls_made": len(sent),
        "calls_rows": int(calls_rows),
        "requests_answered": requests_ok,
        "call_events_rows": int(events_rows),
        "calls_completed": int(completed),
        "status_callbacks": statuses_sent,
        "errors": int(errors),
    }
    return counts, problems


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def figures(outcome: Outcome) -> dict[str, Any]:
    """Requests, requests/s, p50 and p99 latency (ms), and p50 by request kind."""
    by_kind: dict[str, list[float]] = {}
    for kind, latency in zip(outcome.kinds, outcome.latencies, strict=True):
        by_kind.setdefault(kind, []).append(latency)
    return {
        "calls": len(outcome.calls),
        "requests": outcome.requests,
        "seconds": round(outcome.elapsed, 3),
        "requests_per_second": round(outcome.requests / outcome.elapsed, 1) if outcome.elapsed else 0.0,
        "p50_ms": round(percentile(outcome.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(outcome.latencies, 0.99) * 1000, 2),
        "failures": len(outcome.failures),
        "cpu_seconds": outcome.cpu,
        "cpu_seconds_other_busiest": outcome.cpu_other,
        "cpu_ms_per_request": {
            group: round(seconds * 1000 / outcome.requests, 3) if outcome.requests else 0.0
            for group, seconds in outcome.cpu.items()
        },
        "latency_by_kind": {
            kind: {
                "requests": len(v),
                "p50_ms": round(percentile(v, 0.5) * 1000, 2),
                "p99_ms": round(percentile(v, 0.99) * 1000, 2),
            }
            for kind, v in sorted(by_kind.items())
        },
    }


def machine() -> dict[str, Any]:
    """CPU model, core count and Python version."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version()}


def print_report(report: dict[str, Any]) -> None:
    """The human-readable figures."""
    m, s = report["machine"], report["settings"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    load = f"{s['calls']} calls" if s["calls"] else f"{s['seconds']} s"
    print(
        f"load: {load} per target, {s['threads']} client threads (in this process), "
        f"{s['workers']} gunicorn sync workers per target, {s['queue_waits']} queue waits per queued call"
    )
    print(
        f"\n{'target':<6} {'calls':>7} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
    )
    for name in ("ivr", "bare"):
        t = report["targets"][name]
        print(
            f"{name:<6} {t['calls']:>7} {t['requests']:>9} {t['requests_per_second']:>9.1f} "
            f"{t['p50_ms']:>8.2f} {t['p99_ms']:>8.2f} {t['failures']:>7}"
        )
    kinds = report["targets"]["ivr"]["latency_by_kind"]
    bare_kinds = report["targets"]["bare"]["latency_by_kind"]
    print(
        f"\n{'latency by kind (ms)':<22} {'requests':>9} {'ivr p50':>8} {'ivr p99':>8} "
        f"{'bare p50':>9} {'bare p99':>9}"
    )
    for k, v in kinds.items():
        b = bare_kinds.get(k, {})
        print(
            f"  {k:<20} {v['requests']:>9} {v['p50_ms']:>8.2f} {v['p99_ms']:>8.2f} "
            f"{b.get('p50_ms', 0):>9.2f} {b.get('p99_ms', 0):>9.2f}"
        )
    print("\nCPU ms per request (server = the gunicorn group, client = this process):")
    for name in ("ivr", "bare"):
        t = report["targets"][name]
        used = sum(t["cpu_seconds"].values())
        share = used / (t["seconds"] * (m["cores"] or 1)) if t["seconds"] else 0.0
        print(
            f"  {name:<5} " + ", ".join(f"{g} {v:.3f}" for g, v in t["cpu_ms_per_request"].items())
            + f"  (all cores {share:.0%} busy)"
        )  # fmt: skip
        if t["cpu_seconds_other_busiest"]:
            busiest = ", ".join(f"{k} {v:.2f} s" for k, v in t["cpu_seconds_other_busiest"].items())
            print(f"        other processes: {busiest}")
    cpu = report["server_db_cpu_ms_per_request"]
    print(
        f"\nserver+DB CPU per request: {cpu['ivr']:.2f} ms; target <= {CPU_TARGET_MS}, aim {CPU_AIM_MS} "
        f"(bare app: {cpu['bare']:.2f} ms)"
    )
    trips = report["round_trips"]
    print(
        f"\nround trips per request by kind (in-process, {trips['calls']} calls one at a time at "
        f"{report['settings']['at']}, counted from SQLAlchemy's events):"
    )
    print(
        f"  {'kind':<20} {'requests':>9} {'round trips':>12} {'statements':>11} {'BEGIN':>6} {'COMMIT':>7} "
        f"{'ROLLBACK':>9}"
    )
    rows = [*trips["by_kind"].items(), ("all", trips["per_request"])] if trips["per_request"] else []
    for k, v in rows:
        print(
            f"  {k:<20} {v['requests']:>9} {v['round_trips']:>12.2f} {v['statements']:>11.2f} "
            f"{v['begin']:>6.2f} {v['commit']:>7.2f} {v['rollback']:>9.2f}"
        )
    ratio = report["ratio"]
    verdict = "met" if report["goal_met"] else "NOT met"
    if not report["checks"]["ok"]:
        verdict = "not judged: checks failed"
    print(f"\nratio ivr/bare throughput: {ratio:.3f}  (goal >= {GOAL}: {verdict})")
    print(
        f"ratio by CPU cost per request (bare/ivr, server + postgres + client; less sensitive to the "
        f"machine's other load): {report['cpu_ratio']:.3f}"
    )
    c = report["checks"]
    print(
        f"ivr call log: {c['counts']['calls_rows']} calls rows for {c['counts']['calls_made']} calls, "
        f"{c['counts']['call_events_rows']} call_events rows for {c['counts']['requests_answered']} "
        f"answered requests, {c['counts']['calls_completed']} calls completed"
    )
    if c["problems"]:
        print(f"CHECKS FAILED ({len(c['problems'])}):")
        for problem in c["problems"][:20]:
            print(f"  {problem}")
    else:
        print("checks: OK (every response 200/204, every call and step logged, no fallback answers)")


# ---------------------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Throughput of ivr's webhooks against a bare Flask app under the same signed Twilio "
        "load (gunicorn on loopback, PostgreSQL), with a check of ivr's call log.",
        epilog="What a run does, step by step, is in the module docstring (benchmarks/webhooks.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per target")
    parser.add_argument("--calls", type=int, default=0, help="run exactly this many calls per target instead")
    parser.add_argument("--threads", type=int, default=8, help="concurrent simulated callers")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per target")
    parser.add_argument("--queue-waits", type=int, default=2, help="wait-URL requests per queued call")
    parser.add_argument("--warmup-calls", type=int, default=8, help="unmeasured calls per target first")
    parser.add_argument(
        "--pg-url", default=f"postgresql://postgres@{LOOPBACK}:5432", help="PostgreSQL server"
    )
    parser.add_argument("--db-name", default="ivr_bench", help="benchmark database (dropped and recreated)")
    parser.add_argument(
        "--at",
        default=DEFAULT_AT,
        help="the simulated time every call starts at (ISO 8601; without an offset: America/Chicago)",
    )
    parser.add_argument(
        "--round-trip-calls", type=int, default=3, help="calls driven in-process to count round trips"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.calls < 0 or args.threads < 1 or args.workers < 1 or args.queue_waits < 0:
        parser.error("--seconds, --threads and --workers must be positive; --calls, --queue-waits >= 0")
    if args.round_trip_calls < 1:
        parser.error("--round-trip-calls must be positive")
    try:
        at = datetime.fromisoformat(args.at)
    except ValueError:
        parser.error(f"--at: {args.at!r} is not an ISO 8601 date-time")
    args.at = at if at.tzinfo else at.replace(tzinfo=CHICAGO)
    return args


def measure(
    args: argparse.Namespace, ivr: Server, bare: Server
) -> tuple[Outcome, Outcome, list[CallRecord], list[str]]:
    """Warm up, load ivr, replay its requests on the bare app; (ivr, bare, all ivr calls, warm-up fails)."""
    cap = args.calls or 10**7
    warm = run_load(
        ivr.base, "ivr", args.threads, live_scripts(None, args.queue_waits, args.at), args.warmup_calls
    )
    warm_bare = run_load(
        bare.base, "bare", args.threads, replayed_scripts(warm.calls, None), args.warmup_calls
    )
    deadline = None if args.calls else time.monotonic() + args.seconds
    ivr_out = metered(
        ivr,
        lambda: run_load(
            ivr.base, "ivr", args.threads, live_scripts(deadline, args.queue_waits, args.at), cap
        ),
    )
    if not ivr_out.calls:
        raise RuntimeError("no ivr call was made")
    deadline = None if args.calls else time.monotonic() + args.seconds
    replayed = replayed_scripts(ivr_out.calls, deadline)
    bare_out = metered(bare, lambda: run_load(bare.base, "bare", args.threads, replayed, cap))
    return ivr_out, bare_out, warm.calls + ivr_out.calls, warm.failures + warm_bare.failures


def _terminated(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM: leave through the finally blocks, so the servers are stopped."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every check passed."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    db_url = prepare_database(args.pg_url, args.db_name)
    env = {name: value for name, value in os.environ.items() if name != "TWILIO_ACCOUNT_SID"} | {
        "DATABASE_URL": db_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "FLOWS_DIR": str(ROOT / "flows"),
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": secrets.token_hex(16),
        "PROXY_FIX_HOPS": "0",
    }
    ivr_port = free_port()
    bare_port = free_port()
    while bare_port == ivr_port:
        bare_port = free_port()
    # IVR_SIMULATED_TIME=1: each request's signed IvrSimulatedTime (--at) is its time (no Twilio account set)
    ivr_env = env | {"PUBLIC_BASE_URL": "", "IVR_SIMULATED_TIME": "1"}
    ivr = Server("ivr", "ivr:create_app()", ivr_port, ivr_env, args.workers)
    ivr.env["PUBLIC_BASE_URL"] = ivr.base
    bare = Server("bare", "bare_app:app", bare_port, env, args.workers, ["--pythonpath", str(BENCH_DIR)])
    try:
        for server in (ivr, bare):
            server.start()
        for server in (ivr, bare):
            server.wait_ready()
        ivr_out, bare_out, all_ivr_calls, warm_failures = measure(args, ivr, bare)
        counts, problems = check_call_log(db_url, all_ivr_calls)
        server_logs = {s.name: s.output() for s in (ivr, bare)}
    finally:
        # a second Ctrl-C or SIGTERM must not cut the cleanup short
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for server in (ivr, bare):
                server.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    app = in_process_app(db_url)
    try:
        trips = count_round_trips(app, args.round_trip_calls, args.queue_waits, args.at)
    finally:
        app.extensions["ivr.db"].engine.dispose()
    problems = warm_failures[:10] + ivr_out.failures[:10] + bare_out.failures[:10] + problems
    problems += trips.pop("failures")[:10]
    ivr_fig, bare_fig = figures(ivr_out), figures(bare_out)
    ratio = ivr_fig["requests_per_second"] / bare_fig["requests_per_second"] if bare_fig["requests"] else 0.0
    own = ("server", "postgres", "client")  # not "other": the rest of a shared machine's load
    ivr_cpu = sum(ivr_fig["cpu_ms_per_request"].get(group, 0.0) for group in own)
    bare_cpu = sum(bare_fig["cpu_ms_per_request"].get(group, 0.0) for group in own)
    report = {
        "machine": machine(),
        "settings": {
            "seconds": args.seconds, "calls": args.calls, "threads": args.threads, "workers": args.workers,
            "queue_waits": args.queue_waits, "warmup_calls": args.warmup_calls, "database": args.db_name,
            "at": args.at.isoformat(), "round_trip_calls": args.round_trip_calls,
        },
        "targets": {"ivr": ivr_fig, "bare": bare_fig},
        "server_db_cpu_ms_per_request": {
            name: round(sum(f["cpu_ms_per_request"].get(g, 0.0) for g in ("server", "postgres")), 3)
            for name, f in (("ivr", ivr_fig), ("bare", bare_fig))
        },
        "cpu_target_ms": CPU_TARGET_MS,
        "cpu_aim_ms": CPU_AIM_MS,
        "round_trips": trips,
        "ratio": round(ratio, 3),
        "cpu_ratio": round(bare_cpu / ivr_cpu, 3) if ivr_cpu else 0.0,
        "goal": GOAL,
        "goal_met": ratio >= GOAL and not problems,
        "checks": {"ok": not problems, "counts": counts, "problems": problems},
    }  # fmt: skip
    print_report(report)
    if problems:
        for name, text in server_logs.items():
            if text.strip():
                print(f"\n--- {name} gunicorn log (tail) ---\n{text}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
