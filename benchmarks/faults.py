"""Faults and soak: does every webhook get an answer within 5 s, and is every answered step logged, when the
database fails under a steady signed call load?

One run does everything and stops by itself. For each fault (one at a time) it:

1. serves ivr with the Procfile's ``web`` line (gunicorn, ``WEB_CONCURRENCY=2`` workers, on a free port),
   on a throwaway PostgreSQL cluster (initdb into a temporary folder, started on a free loopback port with
   trust authentication, removed at the end: the machine's own server on 5432 is never touched) or on a
   SQLite file in the temporary folder; both are migrated and given the sample flows first;
2. places a steady load of whole simulated calls (the carrier simulator, ``ivr.sim``: status callbacks
   initiated, ringing, /voice/incoming, in-progress, every step the TwiML asks for, completed), signed as
   Twilio signs them, arriving at a fixed rate whatever the answers (``--rate`` calls/s, ``--think``
   seconds between two requests of a call); the client gives up on a request after 15 s, as Twilio does;
3. after ``--warmup`` seconds injects the fault, keeps the load going for ``--after`` seconds once it is
   over, lets the calls in progress finish, runs ``ivr journal replay`` when that command exists, and
   compares the call log (tables ``calls`` and ``call_events``) with what the client was answered.

The faults (``--only a,c`` picks some):

  a  PostgreSQL stopped (``pg_ctl stop -m fast``) for 20 s, then started again;
  b  PostgreSQL hangs: gunicorn reaches it through a loopback TCP proxy (in this script) that stops
     forwarding for 20 s (it still accepts connections but reads and forwards nothing), then resumes;
  c  the SQLite write lock held for 35 s by another connection (``BEGIN IMMEDIATE``);
  d  a gunicorn worker killed with SIGKILL in the middle of the load (three times, 5 s apart), on both;
  e  a 150,000-row contact import (``ivr campaign import``) run during the load, on both.

``--quick`` shortens everything (faults of 8-10 s, one worker kill, a 10,000-row import) to finish in about
three minutes; it cannot show what only a long fault shows (a lock held past SQLite's 30 s busy timeout).

Per fault it prints the requests sent and answered (any 2xx), the 5xx, the unanswered (no answer within
15 s, or the connection refused or reset), p50, p99 and max latency over the whole run (unanswered requests
count with the time the client waited), and the calls and steps missing from the log. Goals: 0 unanswered,
max latency under 5 s, 0 missing. ``--json`` prints the same as JSON. Exit status 0 when every goal is met.

What is compared: a call is in the log when ``calls`` has a row with its CallSid. A step is every request the
client got a 2xx answer to; it is in the log when the call's ``call_events`` hold an event recording it (see
STEP_DEFINITION); each event accounts for one request at most.

Run it from the repository root (needs the PostgreSQL server binaries, /usr/lib/postgresql/*/bin; as root
the cluster runs as the ``postgres`` user)::

    .venv/bin/python benchmarks/faults.py [--quick] [--only a,b,c,d,e] [--rate 4] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pwd
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import requests

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))

from import_contacts import SUMMARY, generate  # noqa: E402
from webhooks import Server, free_port, percentile  # noqa: E402

from ivr.sim import HttpTransport, SimulatedCall, VirtualClock  # noqa: E402
from ivr.sim.people import Caller, Input  # noqa: E402
from ivr.sim.transport import Reply, Timed, Transport  # noqa: E402

LOOPBACK = "127.0.0.1"
TOKEN = "faults-auth-token-" + secrets.token_hex(8)
CALLED = "+15125550100"  # the sample site's main number
PRESSES = ("1", "2", "5")  # language: English; main menu: technical support; survey: 5
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 9:00 in Chicago: the sample desks are open
TWILIO_TIMEOUT = 15.0  # Twilio gives up on a webhook after 15 s
GOAL_MAX_SECONDS = 5.0
STEP_KINDS = {  # the events a step of each kind logs, whatever its outcome (ivr/engine/nodes.py)
    "input": frozenset({"input"}),
    "wait": frozenset({"queue_wait"}),
    "result": frozenset({"queue_left", "dial_result", "recording"}),
}
STEP_DEFINITION = (
    "a call is in the log when `calls` has its CallSid; a step (a request answered 2xx) is in the log when "
    "the call's `call_events` hold, for /voice/incoming, a `flow_started` event; for "
    "/voice/step/<flow>/<node>/<event>, an event at <node> of the kind that step logs (input: `input`; "
    "wait: `queue_wait`; result: `queue_left`, `dial_result` or `recording`); for /voice/status, a "
    "`status` event with the callback's SequenceNumber; for /voice/transcription a `transcription` event; "
    "for /voice/fallback a `fallback_result` event; or, for any request, an event whose data.path is the "
    "request's path (how ivr logs a step answered with the fallback). Each event accounts for one request."
)


# ---------------------------------------------------------------------------------------------------------
# what the client saw


@dataclass
class Exchange:
    """One webhook request and its answer: status 0 when none came (timeout, refused, reset)."""

    path: str
    params: dict[str, str]
    status: int
    seconds: float
    sent_at: float  # seconds since the run began
    error: str = ""  # why there was no answer

    @property
    def answered(self) -> bool:
        """A 2xx answer: what Twilio would have acted on (and what must be in the log)."""
        return 200 <= self.status < 300


@dataclass
class CallLog:
    """Every request of one call, in order."""

    sid: str
    exchanges: list[Exchange] = field(default_factory=list)


class Recorder:
    """A transport that waits `think` seconds before each request, then times it and records it."""

    def __init__(self, inner: Transport, call: CallLog, began: float, think: float = 0.0) -> None:
        self.inner = inner
        self.call = call
        self.began = began
        self.think = think

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST through the inner transport; a request that got no answer is recorded with status 0."""
        if self.think and self.call.exchanges:
            time.sleep(self.think)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        started = time.perf_counter()
        try:
            reply = self.inner.post(url, params)
        except (requests.RequestException, OSError) as exc:
            reply = Reply(0, "", b"")
            error = "timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
        else:
            error = ""
        seconds = time.perf_counter() - started
        self.call.exchanges.append(Exchange(path, params, reply.status, seconds, started - self.began, error))
        return reply


def run_call(transport: Transport, base_url: str, number: int, clock: VirtualClock, call: CallLog) -> None:
    """One whole inbound call through the simulator; its requests are recorded by `transport` (a Recorder)."""
    caller = Caller.scripted([Input(digits=d) for d in PRESSES])
    simulated = SimulatedCall(transport, base_url, f"+1512555{number % 10000:04d}", CALLED, clock, caller)
    call.sid = simulated.sid
    simulated.run()


class Load:
    """New calls at a steady rate, each in its own thread, whatever the answers (as Twilio's arrive)."""

    def __init__(self, base: str, rate: float, think: float, simulated: bool, max_live: int = 600) -> None:
        self.base = base
        self.rate = rate
        self.think = think
        self.simulated = simulated
        self.max_live = max_live
        self.calls: list[CallLog] = []
        self.skipped = 0  # calls not placed because max_live were in progress
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.began = time.perf_counter()
        self.launcher = threading.Thread(target=self._launch, daemon=True)

    def start(self) -> None:
        """Start placing calls."""
        self.began = time.perf_counter()
        self.launcher.start()

    def _launch(self) -> None:
        number = 0
        due = time.perf_counter()
        while not self.stopping.is_set():
            number += 1
            live = sum(1 for thread in self.threads if thread.is_alive())
            if live >= self.max_live:
                self.skipped += 1
            else:
                thread = threading.Thread(target=self._call, args=(number,), daemon=True)
                self.threads.append(thread)
                thread.start()
            due += 1.0 / self.rate
            self.stopping.wait(max(0.0, due - time.perf_counter()))

    def _call(self, number: int) -> None:
        call = CallLog("")
        with self.lock:
            self.calls.append(call)
        http = HttpTransport(TOKEN, timeout=TWILIO_TIMEOUT)
        recorder: Transport = Recorder(http, call, self.began, self.think)
        clock = VirtualClock(START + timedelta(seconds=time.perf_counter() - self.began))
        transport = Timed(recorder, clock) if self.simulated else recorder
        try:
            run_call(transport, self.base, number, clock, call)
        except Exception as exc:  # a driver bug: recorded as a request that got no answer
            call.exchanges.append(Exchange("", {}, 0, 0.0, 0.0, f"driver error: {exc!r}"))
        finally:
            http.session.close()

    def stop(self, drain: float) -> int:
        """Place no more calls; wait up to `drain` s for those in progress; how many were still going."""
        self.stopping.set()
        self.launcher.join()
        deadline = time.monotonic() + drain
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(1 for thread in self.threads if thread.is_alive())

    def snapshot(self) -> list[CallLog]:
        """The calls so far, their requests copied (calls still going may add more)."""
        with self.lock:
            return [CallLog(c.sid, list(c.exchanges)) for c in self.calls if c.sid]


# ---------------------------------------------------------------------------------------------------------
# what the log holds, and what is missing from it


@dataclass(frozen=True)
class LoggedEvent:
    """One row of call_events, as the comparison needs it."""

    kind: str
    node: str | None
    data: dict[str, Any]


def step_matches(exchange: Exchange, event: LoggedEvent) -> bool:
    """Whether `event` records `exchange` (STEP_DEFINITION)."""
    path = urlsplit(exchange.path).path
    if isinstance(event.data, dict) and event.data.get("path") == path:
        return True
    parts = path.strip("/").split("/")
    if path == "/voice/incoming":
        return event.kind == "flow_started"
    if len(parts) == 5 and parts[:2] == ["voice", "step"]:
        return event.node == parts[3] and event.kind in STEP_KINDS.get(parts[4], frozenset())
    if path == "/voice/status":
        sequence = exchange.params.get("SequenceNumber")
        return event.kind == "status" and sequence is not None and str(event.data.get("sequence")) == sequence
    if path == "/voice/transcription":
        return event.kind == "transcription"
    if path == "/voice/fallback":
        return event.kind == "fallback_result"
    return False


@dataclass
class Missing:
    """Calls and steps the client was answered for that the log lacks."""

    calls: int = 0
    steps: int = 0
    answered_calls: int = 0
    answered_steps: int = 0
    examples: list[str] = field(default_factory=list)


def find_missing(calls: Iterable[CallLog], logged: dict[str, list[LoggedEvent]]) -> Missing:
    """Compare what the client was answered with the log: `logged` maps each CallSid in `calls` to its events
    (in id order); a CallSid absent from it has no `calls` row."""
    found = Missing()
    for call in calls:
        answered = [exchange for exchange in call.exchanges if exchange.answered]
        if not answered:
            continue
        found.answered_calls += 1
        found.answered_steps += len(answered)
        if call.sid not in logged:
            found.calls += 1
            found.steps += len(answered)
            if len(found.examples) < 5:
                found.examples.append(f"{call.sid}: no calls row ({len(answered)} steps answered)")
            continue
        unused = list(logged[call.sid])
        for exchange in answered:
            match = next((event for event in unused if step_matches(exchange, event)), None)
            if match is None:
                found.steps += 1
                if len(found.examples) < 5:
                    found.examples.append(f"{call.sid}: {exchange.path} (HTTP {exchange.status}) not logged")
            else:
                unused.remove(match)
    return found


def read_log(url: str, sids: Sequence[str]) -> dict[str, list[LoggedEvent]]:
    """The events of each of these calls that has a `calls` row (in id order), read from the database."""
    from sqlalchemy import select

    from ivr.db import make_engine
    from ivr.models import Call, CallEvent

    engine = make_engine(url)
    logged: dict[str, list[LoggedEvent]] = {}
    try:
        with engine.connect() as conn:
            for start in range(0, len(sids), 500):
                chunk = list(sids[start : start + 500])
                for (sid,) in conn.execute(select(Call.call_sid).where(Call.call_sid.in_(chunk))):
                    logged[sid] = []
                query = (
                    select(Call.call_sid, CallEvent.kind, CallEvent.node, CallEvent.data)
                    .join(CallEvent, CallEvent.call_id == Call.id)
                    .where(Call.call_sid.in_(chunk))
                    .order_by(CallEvent.id)
                )
                for sid, kind, node, data in conn.execute(query):
                    logged[sid].append(LoggedEvent(kind, node, data if isinstance(data, dict) else {}))
    finally:
        engine.dispose()
    return logged


# ---------------------------------------------------------------------------------------------------------
# the hang: a loopback TCP proxy that can stop forwarding


class Proxy:
    """Forwards loopback TCP connections to `upstream`; paused, it accepts but reads and forwards nothing."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> Proxy:
        """Start accepting; returns self."""
        self.thread.start()
        return self

    def pause(self) -> None:
        """Stop reading and forwarding on every connection, new ones included (they are still accepted)."""
        self.flowing.clear()

    def resume(self) -> None:
        """Forward again, starting with what was held."""
        self.flowing.set()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self.closed.set()
        self.flowing.set()
        self.listener.close()
        with self.lock:
            for sock in list(self.sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()
        self.thread.join(timeout=5)

    def _wait_flowing(self) -> bool:
        while not self.flowing.wait(0.1):
            if self.closed.is_set():
                return False
        return not self.closed.is_set()

    def _keep(self, sock: socket.socket) -> None:
        with self.lock:
            if self.closed.is_set():
                sock.close()
                raise OSError("the proxy is closed")
            self.sockets.add(sock)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            self._keep(client)
        except OSError:
            return
        if not self._wait_flowing():
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            self._keep(upstream)
        except OSError:
            self._drop(client)
            return
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while self._wait_flowing():
                ready, _, _ = select.select([source], [], [], 0.1)
                if not ready or not self.flowing.is_set():  # paused meanwhile: read nothing
                    continue
                data = source.recv(65536)
                if not data or not self._wait_flowing():
                    break
                target.sendall(data)
        except (OSError, ValueError):  # closed under us
            pass
        finally:
            self._drop(source)
            self._drop(target)

    def _drop(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


# ---------------------------------------------------------------------------------------------------------
# the throwaway PostgreSQL cluster


class Cluster:
    """A PostgreSQL cluster of its own in `folder`, on a free loopback port, trust authentication."""

    def __init__(self, folder: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = found[-1].parent
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.running = False

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")

    def init(self) -> None:
        """initdb, then start."""
        self.folder.mkdir(parents=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={LOOPBACK} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", "start"
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: connections are cut, nothing is lost)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def url(self, database: str) -> str:
        """The URL of a database of this cluster."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def remove(self) -> None:
        """Stop the server if it runs (immediately), and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# ivr under gunicorn, as the Procfile runs it


def procfile_line(kind: str = "web") -> str:
    """The command of one process type of the Procfile."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == kind:
            return command.strip()
    raise SystemExit(f"the Procfile has no {kind!r} line")


class ProcfileServer(Server):
    """gunicorn started with the Procfile's web line (PORT and WEB_CONCURRENCY set), in its own session."""

    def start(self) -> None:
        """Start the web line through sh, logging to a temporary file."""
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        env = self.env | {"PORT": str(self.port), "WEB_CONCURRENCY": str(self.workers)}
        self.process = subprocess.Popen(
            ["sh", "-c", "exec " + procfile_line("web")],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def workers_now(self) -> list[int]:
        """The pids of the master's workers, busiest (running) first."""
        assert self.process is not None
        found: list[tuple[bool, int]] = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[1]) == self.process.pid:
                found.append((fields[0] != "R", int(entry.name)))
        return [pid for _, pid in sorted(found)]


def environment(database_url: str, base: str) -> dict[str, str]:
    """The environment of the server and of the commands run against the same database."""
    venv_bin = str(Path(sys.executable).parent)
    return os.environ | {
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": base,
        "FLOWS_DIR": str(ROOT / "flows"),
        "SECRET_KEY": secrets.token_hex(32),
        "LOG_LEVEL": "WARNING",
        "IVR_SIMULATED_TIME": "1",  # the calls are placed in business hours, whatever the time of the run
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
    }


def ivr_command(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ivr ARGS` (this checkout's, in a child process) with `env`."""
    done = subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"ivr {' '.join(args)} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done


# What the Procfile's release line does (migrate, publish the flows), and a campaign for the import: in one
# child process, as three commands of this checkout's `ivr`.
PREPARE = f"""
from ivr.cli.main import main
for args in (
    ["db", "upgrade"],
    ["flows", "publish", "--if-empty"],
    ["campaign", "create", "faults-import", "--flow", "main", "--caller-id", "{CALLED}"],
):
    main(args, standalone_mode=False)
"""


def prepare(env: dict[str, str]) -> None:
    """Migrate the database, publish the sample flows and create the campaign the import fills."""
    done = subprocess.run(
        [sys.executable, "-c", PREPARE], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"preparing the database failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def has_journal(env: dict[str, str]) -> bool:
    """Whether this checkout's `ivr` has the `journal` command group."""
    return ivr_command(env, "journal", "--help", check=False).returncode == 0


def replay_journal(env: dict[str, str], available: bool) -> str:
    """Run `ivr journal replay` if this checkout has it; what happened, in a line."""
    if not available:
        return "no `ivr journal replay` command in this checkout: replay skipped"
    done = ivr_command(env, "journal", "replay", check=False)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        return f"`ivr journal replay` FAILED (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    return f"`ivr journal replay` ran: {last}"


# ---------------------------------------------------------------------------------------------------------
# the faults


@dataclass
class Settings:
    """Durations and sizes of one run."""

    warmup: float
    after: float
    down: float  # a: PostgreSQL stopped
    hang: float  # b: the proxy paused
    lock: float  # c: the SQLite write lock held
    kills: int  # d: workers killed
    kill_every: float
    rows: int  # e: rows imported
    rate: float
    think: float
    drain: float
    workers: int


@dataclass
class Bench:
    """What the faults act on."""

    folder: Path
    settings: Settings
    cluster: Cluster | None = None
    proxy: Proxy | None = None
    csv: Path | None = None
    journal: bool = False  # `ivr journal replay` exists


Fault = Callable[[Bench, ProcfileServer, str], str]  # (bench, server, database url) -> what was done


def stop_postgres(bench: Bench, server: ProcfileServer, url: str) -> str:
    """(a) pg_ctl stop, wait, pg_ctl start."""
    assert bench.cluster is not None
    bench.cluster.stop()
    try:
        time.sleep(bench.settings.down)
    finally:
        bench.cluster.start()
    return f"PostgreSQL stopped for {bench.settings.down:.0f} s"


def hang_postgres(bench: Bench, server: ProcfileServer, url: str) -> str:
    """(b) the proxy between gunicorn and PostgreSQL stops forwarding, then resumes."""
    assert bench.proxy is not None
    bench.proxy.pause()
    try:
        time.sleep(bench.settings.hang)
    finally:
        bench.proxy.resume()
    return f"PostgreSQL unreachable for {bench.settings.hang:.0f} s (connections accepted, nothing forwarded)"


def lock_sqlite(bench: Bench, server: ProcfileServer, url: str) -> str:
    """(c) another connection holds the write lock (BEGIN IMMEDIATE), then rolls back."""
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
    try:
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(bench.settings.lock)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    return f"SQLite write lock held for {bench.settings.lock:.0f} s"


def kill_worker(bench: Bench, server: ProcfileServer, url: str) -> str:
    """(d) SIGKILL a worker (a running one if any), `kills` times; the master starts new ones."""
    killed = []
    for n in range(bench.settings.kills):
        if n:
            time.sleep(bench.settings.kill_every)
        pids = server.workers_now()
        if pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
    apart = f", {bench.settings.kill_every:.0f} s apart" if len(killed) > 1 else ""
    return f"{len(killed)} gunicorn worker(s) killed with SIGKILL{apart}"


def import_contacts(bench: Bench, server: ProcfileServer, url: str) -> str:
    """(e) `ivr campaign import` of the generated list, while the load goes on."""
    assert bench.csv is not None
    env = environment(url, server.base)
    command = [sys.executable, "-m", "ivr.cli", "campaign", "import", "faults-import", str(bench.csv)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.perf_counter()
    try:
        out, err = process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        return f"the {bench.settings.rows:,}-row import FAILED after {seconds:.1f} s: {err.decode()[-300:]}"
    summary = SUMMARY.search(out.decode())
    return f"{bench.settings.rows:,}-row import took {seconds:.1f} s ({summary.group(0) if summary else '?'})"


@dataclass(frozen=True)
class Phase:
    """One fault on one database."""

    letter: str
    title: str
    database: str  # "postgresql" or "sqlite"
    fault: Fault


PHASES = (
    Phase("a", "PostgreSQL stopped, then started", "postgresql", stop_postgres),
    Phase("b", "PostgreSQL hangs (proxy stops forwarding)", "postgresql", hang_postgres),
    Phase("c", "SQLite write lock held", "sqlite", lock_sqlite),
    Phase("d", "gunicorn worker SIGKILLed", "postgresql", kill_worker),
    Phase("d", "gunicorn worker SIGKILLed", "sqlite", kill_worker),
    Phase("e", "contact import during the load", "postgresql", import_contacts),
    Phase("e", "contact import during the load", "sqlite", import_contacts),
)


# ---------------------------------------------------------------------------------------------------------
# one phase, and its figures


def _webhook(path: str) -> str:
    """A request's webhook without its flow, node and event (/voice/step/main/menu/input -> /voice/step)."""
    parts = urlsplit(path).path.split("/")
    return "/".join(parts[:3])


def figures(calls: list[CallLog]) -> dict[str, Any]:
    """Requests, answers, 5xx, unanswered and latency over every request of these calls."""
    exchanges = [exchange for call in calls for exchange in call.exchanges]
    latencies = [exchange.seconds for exchange in exchanges]
    return {
        "calls": len(calls),
        "requests": len(exchanges),
        "answered": sum(1 for e in exchanges if e.answered),
        "status_5xx": sum(1 for e in exchanges if 500 <= e.status < 600),
        # which webhooks answered 5xx: /voice/status answers 503 on purpose when it cannot store a callback
        "status_5xx_by_path": dict(
            Counter(_webhook(e.path) for e in exchanges if 500 <= e.status < 600).most_common()
        ),
        "status_4xx": sum(1 for e in exchanges if 400 <= e.status < 500),
        "unanswered": sum(1 for e in exchanges if e.status == 0),
        "unanswered_timed_out": sum(1 for e in exchanges if e.status == 0 and e.error == "timeout"),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_s": round(max(latencies, default=0.0), 3),
    }


def goals(row: dict[str, Any]) -> dict[str, bool]:
    """Each goal: met or not."""
    return {
        "no_unanswered": row["unanswered"] == 0,
        "max_latency_under_5s": row["max_s"] < GOAL_MAX_SECONDS,
        "nothing_missing": row["missing_calls"] == 0 and row["missing_steps"] == 0,
    }


def server_log_summary(server: ProcfileServer) -> dict[str, Any]:
    """From gunicorn's log: workers it killed for the timeout, error lines, the last lines that are not
    the access log's."""
    if server.log is None:
        return {}
    server.log.seek(0)
    lines = server.log.read().decode("utf-8", "replace").splitlines()
    notes = [line for line in lines if not line.startswith(f"{LOOPBACK} - ")]
    return {
        "worker_timeouts": sum(1 for line in notes if "WORKER TIMEOUT" in line),
        "server_error_lines": sum(1 for line in notes if "ERROR" in line or "CRITICAL" in line),
        "server_log_tail": notes[-12:],
    }


def run_phase(bench: Bench, phase: Phase, url: str, log_url: str) -> dict[str, Any]:
    """Serve, load, inject the fault, recover, replay, compare: the phase's row of figures."""
    s = bench.settings
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = environment(url, base)
    server = ProcfileServer(f"{phase.letter}-{phase.database}", "", port, env, s.workers)
    load: Load | None = None
    try:
        server.start()
        server.wait_ready(60)
        load = Load(base, s.rate, s.think, simulated=True)
        load.start()
        time.sleep(s.warmup)
        fault_began = time.perf_counter() - load.began
        done = phase.fault(bench, server, url)
        fault_ended = time.perf_counter() - load.began
        time.sleep(s.after)
        still_going = load.stop(s.drain)
        replayed = replay_journal(env, bench.journal)
        calls = load.snapshot()
        missing = find_missing(calls, read_log(log_url, [call.sid for call in calls]))
        server_log = server_log_summary(server)
    finally:
        if load is not None:
            load.stopping.set()
        server.stop()
    row: dict[str, Any] = {
        "fault": phase.letter,
        "title": phase.title,
        "database": phase.database,
        "what": done,
        "fault_window_s": [round(fault_began, 1), round(fault_ended, 1)],
        **figures(calls),
        "calls_skipped": load.skipped,
        "calls_still_going": still_going,
        "missing_calls": missing.calls,
        "missing_steps": missing.steps,
        "answered_calls": missing.answered_calls,
        "answered_steps": missing.answered_steps,
        "missing_examples": missing.examples,
        "journal": replayed,
        **server_log,
    }
    row["goals"] = goals(row)
    return row


# ---------------------------------------------------------------------------------------------------------
# report


def machine() -> dict[str, Any]:
    """CPU model, cores, Python, load average."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def verdict(ok: bool) -> str:
    """'met' or 'NOT met'."""
    return "met" if ok else "NOT met"


def print_report(report: dict[str, Any]) -> None:
    """The human-readable table and the goal lines."""
    m, s = report["machine"], report["settings"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, load average {m['load_average']}")
    print(f"date: {report['date']}; gunicorn: {report['web']!r} with WEB_CONCURRENCY={s['workers']}")
    print(
        f"load: {s['rate']} calls/s, {s['think']} s between a call's requests, client timeout "
        f"{TWILIO_TIMEOUT:.0f} s; {s['warmup']} s before each fault, {s['after']} s after it"
    )
    print(f"in the log: {STEP_DEFINITION}\n")
    head = (
        f"{'fault':<48} {'db':<6} {'calls':>5} {'sent':>6} {'answered':>8} {'5xx':>5} {'unansw':>6} "
        f"{'p50 ms':>7} {'p99 ms':>8} {'max s':>6} {'miss calls':>10} {'miss steps':>10}"
    )
    print(head)
    for row in report["phases"]:
        name = f"{row['fault']}: {row['title']}"
        db = "pg" if row["database"] == "postgresql" else "sqlite"
        print(
            f"{name[:48]:<48} {db:<6} {row['calls']:>5} {row['requests']:>6} {row['answered']:>8} "
            f"{row['status_5xx']:>5} {row['unanswered']:>6} {row['p50_ms']:>7.1f} {row['p99_ms']:>8.1f} "
            f"{row['max_s']:>6.2f} {row['missing_calls']:>10} {row['missing_steps']:>10}"
        )
    for row in report["phases"]:
        g = row["goals"]
        db = "PostgreSQL" if row["database"] == "postgresql" else "SQLite"
        print(f"\n{row['fault']} on {db}: {row['what']} (from {row['fault_window_s'][0]} s to "
              f"{row['fault_window_s'][1]} s into the run)")  # fmt: skip
        print(
            f"  goal 0 unanswered: {row['unanswered']}, of which {row['unanswered_timed_out']} timed out "
            f"after {TWILIO_TIMEOUT:.0f} s, the others refused or reset ({verdict(g['no_unanswered'])})"
        )
        print(
            f"  goal max latency under {GOAL_MAX_SECONDS:.0f} s: {row['max_s']:.2f} s "
            f"({verdict(g['max_latency_under_5s'])})"
        )
        print(
            f"  goal 0 missing: {row['missing_calls']} of {row['answered_calls']} calls, "
            f"{row['missing_steps']} of {row['answered_steps']} answered steps "
            f"({verdict(g['nothing_missing'])})"
        )
        if row["status_5xx_by_path"]:
            by_path = ", ".join(f"{path} {count}" for path, count in row["status_5xx_by_path"].items())
            print(f"  5xx by webhook: {by_path}")
        print(f"  journal: {row['journal']}")
        print(
            f"  gunicorn: {row.get('worker_timeouts', 0)} worker(s) killed for its timeout, "
            f"{row.get('server_error_lines', 0)} error lines logged"
        )
        if row["calls_still_going"] or row["calls_skipped"]:
            going, skipped = row["calls_still_going"], row["calls_skipped"]
            print(f"  calls still going at the end: {going}; not placed (too many going): {skipped}")
        for example in row["missing_examples"]:
            print(f"  missing, e.g. {example}")
    met = report["all_goals_met"]
    print(f"\nall goals met: {'yes' if met else 'NO'}")


# ---------------------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Faults and soak: ivr under gunicorn while the database fails, with a steady call load.",
        epilog="What a run does is in the module docstring (benchmarks/faults.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--only", default="a,b,c,d,e", help="the faults to inject, comma-separated")
    parser.add_argument("--quick", action="store_true", help="short faults: about three minutes in all")
    parser.add_argument("--rate", type=float, default=4.0, help="new calls per second")
    parser.add_argument("--think", type=float, default=0.2, help="seconds between two requests of a call")
    parser.add_argument("--rows", type=int, help="rows of the import (default 150,000; --quick 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY for the Procfile's web line")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON document")
    args = parser.parse_args(argv)
    letters = {letter.strip() for letter in args.only.split(",") if letter.strip()}
    if not letters or letters - {"a", "b", "c", "d", "e"}:
        parser.error("--only takes letters among a, b, c, d, e (e.g. --only a,c)")
    if args.rate <= 0 or args.think < 0 or args.workers < 1 or (args.rows is not None and args.rows < 1):
        parser.error("--rate, --workers and --rows must be positive, --think at least 0")
    args.letters = letters
    return args


def settings_for(args: argparse.Namespace) -> Settings:
    """Full or quick durations."""
    if args.quick:
        return Settings(2, 3, 8, 8, 10, 1, 0, args.rows or 10_000, args.rate, args.think, 35, args.workers)
    return Settings(5, 15, 20, 20, 35, 3, 5, args.rows or 150_000, args.rate, args.think, 45, args.workers)


def _terminated(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM: leave through the finally blocks, so everything is stopped and removed."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A block that a second Ctrl-C or SIGTERM does not cut short (the cleanup)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    """Every chosen phase, with its databases set up first; the rows of figures."""
    bench = Bench(folder, settings_for(args))
    phases = [phase for phase in PHASES if phase.letter in args.letters]
    rows: list[dict[str, Any]] = []
    try:
        if "e" in args.letters:
            bench.csv = generate(folder / "contacts.csv", bench.settings.rows).path
        urls: dict[str, str] = {}
        if any(phase.database == "sqlite" for phase in phases):
            sqlite_url = f"sqlite:///{folder / 'ivr.sqlite3'}"
            prepare(environment(sqlite_url, ""))
            urls["sqlite"] = sqlite_url
            bench.journal = has_journal(environment(sqlite_url, ""))
        if any(phase.database == "postgresql" for phase in phases):
            bench.cluster = Cluster(folder / "postgres")
            bench.cluster.init()
            import psycopg

            with psycopg.connect(bench.cluster.url("postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE ivr_faults")
            pg_url = bench.cluster.url("ivr_faults")
            prepare(environment(pg_url, ""))
            bench.proxy = Proxy((LOOPBACK, bench.cluster.port)).start()
            urls["postgresql"] = pg_url
            bench.journal = has_journal(environment(pg_url, ""))
        for phase in phases:
            url = log_url = urls[phase.database]  # gunicorn's, and the one the comparison reads
            if phase.fault is hang_postgres:
                assert bench.proxy is not None and bench.cluster is not None
                url = url.replace(f":{bench.cluster.port}/", f":{bench.proxy.port}/")
            print(
                f"[{time.strftime('%H:%M:%S')}] {phase.letter}: {phase.title} on {phase.database}",
                file=sys.stderr,
            )
            rows.append(run_phase(bench, phase, url, log_url))
    finally:
        with shielded():
            if bench.proxy is not None:
                bench.proxy.close()
            if bench.cluster is not None:
                bench.cluster.remove()
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every goal is met."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    folder = Path(tempfile.mkdtemp(prefix="ivr-faults-"))
    os.chmod(folder, 0o755)  # the cluster's user must reach its folder inside
    try:
        rows = run(args, folder)
    except KeyboardInterrupt:
        print("interrupted: servers, cluster and files removed", file=sys.stderr)
        return 130
    finally:
        with shielded():
            shutil.rmtree(folder, ignore_errors=True)
    s = settings_for(args)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "web": procfile_line("web"),
        "settings": asdict(s) | {"quick": args.quick, "only": sorted(args.letters)},
        "in_the_log": STEP_DEFINITION,
        "phases": rows,
        "all_goals_met": all(all(row["goals"].values()) for row in rows),
    }
    print_report(report)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if report["all_goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
