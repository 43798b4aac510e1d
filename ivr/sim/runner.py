"""One simulated call for the command line: in this process on the configured database, or at a URL."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from pathlib import Path
from queue import Empty
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url

from ..db import Limits
from ..engine.site import Site
from ..flows.errors import NothingPublished
from ..voice.journal_replay import replayer
from .call import CallResult, Event, SimulatedCall
from .clock import VirtualClock
from .people import Agents, Caller
from .profile import Profile
from .shard_files import ShardFiles, start_shard
from .shards import Shard, plan
from .staff import Staff, new_logins
from .traffic import Load, TrafficResult, run_traffic
from .transport import HttpTransport, Timed, Transport, WsgiTransport

LOCAL_BASE = "http://ivr.simulator"
LOCAL_TOKEN = "twilio_auth_token"  # the instance file of the token `ivr serve` makes up
SIMULATED_HASH = "pbkdf2:sha256:1000"  # simulated agents' PINs are random and live for one run
# What a shard's process imports (the main module, as multiprocessing's default does; this module, then
# create_app's imports): once, in the fork server
SHARD_PRELOAD = [
    "__main__",
    "ivr.sim.runner",
    "ivr.application",
    "ivr.config",
    "ivr.inputs",
    "ivr.voice",
    "ivr.api",
    "ivr.web",
    "ivr.accounts.access",
    "ivr.web.headers",
    "ivr.flows.store",
    "sqlite3",
]


def _number_for(flows: dict[str, Any], flow_name: str | None) -> str:
    """The number to call: the named flow's first, or the default flow's."""
    for flow in flows.values():
        if flow.name == flow_name or (flow_name is None and flow.default):
            if flow.numbers:
                return str(flow.numbers[0])
            if flow.default:
                return "+15005550006"  # any number no flow claims reaches the default flow
            raise LookupError(f"flow {flow.name!r} answers no number yet: give one with --to")
    raise LookupError(f"no flow named {flow_name!r}" if flow_name else "no default flow")


def run_simulated_call(
    flow_name: str | None,
    to_number: str | None,
    from_number: str,
    caller: Caller,
    agents: Agents,
    clock: VirtualClock,
    url: str | None,
    simulated_time: bool = False,
    watch: Callable[[Event], None] | None = None,
) -> tuple[CallResult, dict[str, Any] | None]:
    """Place one call; in-process, also return the call as the call log recorded it.

    With `url` and `simulated_time`, each request carries the virtual time for the server to use (--at);
    `watch` sees each transcript line as it happens.
    """
    if url:
        if not to_number:
            raise LookupError("with --url, give the number to call with --to")
        remote: Transport = HttpTransport(server_token()[0])
        if simulated_time:
            remote = Timed(remote, clock)
        call = SimulatedCall(remote, url, from_number, to_number, clock, caller, agents)
        call.watch = watch
        return call.run(), None
    from ..calls.log import get_call
    from ..calls.query import call_dict
    from ..db import session

    with local_app(clock) as (app, token):
        published = app.extensions["ivr.flows"].current()
        if published is None:
            raise LookupError(NothingPublished.MESSAGE)
        number = to_number or _number_for(dict(published.site.flows), flow_name)
        transport: Transport = WsgiTransport(app, token)
        call = SimulatedCall(transport, LOCAL_BASE, from_number, number, clock, caller, agents)
        call.watch = watch
        result = call.run()
        with app.app_context():
            row = get_call(session(), result.call_sid)
            return result, call_dict(row, published.site.desks) if row is not None else None


def local_token_path() -> Path:
    """Where `ivr serve` keeps the token it makes up: the instance folder of this installation."""
    return Path(Flask("ivr", instance_relative_config=True).instance_path) / LOCAL_TOKEN


def server_token() -> tuple[str, str | None]:
    """The token a running server checks signatures with, and a note saying where it came from.

    TWILIO_AUTH_TOKEN, else the local token `ivr serve` made up in the instance folder of this checkout.
    """
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if token:
        return token, None
    path = local_token_path()
    local = path.read_text().strip() if path.is_file() else ""
    if not local:
        raise LookupError(
            f"with --url, set TWILIO_AUTH_TOKEN to the server's auth token (a server started by "
            f"`ivr serve` without one keeps the token it made up in {path})"
        )
    return local, f"TWILIO_AUTH_TOKEN is not set: signing with the local token in {path}"


@contextmanager
def local_app(clock: VirtualClock) -> Iterator[tuple[Flask, str]]:
    """The app in this process on the configured database, reading the virtual clock, and its token."""
    from .. import create_app
    from ..config import instance_secret
    from ..migrations.runner import upgrade

    probe = create_app(require_token=False)
    token = os.environ.get("TWILIO_AUTH_TOKEN") or instance_secret(probe.instance_path, LOCAL_TOKEN)
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": token,
            "SECRET_KEY": secrets.token_hex(32),  # serves no pages: any key will do, but a long one
            "IVR_CLOCK": clock.now,
            "PUBLIC_BASE_URL": "",  # in this process the simulator's own base URL is the one signed
            "PROXY_FIX_HOPS": 0,
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        upgrade(app.config["DATABASE_URL"])
        yield app, token
    finally:
        app.extensions["ivr.db"].engine.dispose()
        probe.extensions["ivr.db"].engine.dispose()


def published_site(clock: VirtualClock) -> Site:
    """The site of the flows published in the configured database."""
    with local_app(clock) as (app, _token):
        published = app.extensions["ivr.flows"].current()
        if published is None:
            raise LookupError(NothingPublished.MESSAGE)
        site: Site = published.site
        return site


def run_profile(
    profile: Profile, calls: int, days: int, clock: VirtualClock, url: str | None, seed: int | None,
    progress: Callable[[int], None], jobs: int = 1, shards: int | None = None,
) -> TrafficResult:  # fmt: skip
    """Generate traffic from a profile, in this process or against a server at `url`.

    The simulated agents are made in the configured database (with --url it must be the server's). With
    `jobs` > 1 (in process only) the run is split into up to `shards` (default: `jobs`) shards
    (ivr.sim.shards), run in `jobs` processes of their own on the same database.
    """
    if not url and (shards or jobs) > 1:
        shard_processes()  # the fork server imports ivr while this process gets the run ready
    with local_app(clock) as (app, token), staffed(app, profile) as staff:
        if url:
            transport: Transport = Timed(HttpTransport(server_token()[0]), clock)
            return run_traffic(transport, url, profile, calls, clock, days, seed, progress, staff=staff)
        if (shards or jobs) > 1:
            if seed is None:
                seed = random.randrange(2**32)  # shards draw from streams derived from one seed
            parts = plan(profile, calls, clock.now(), days, seed, shards or jobs)
            if len(parts) > 1:
                return run_shards(
                    portable(app.config), token, profile, parts, staff, LOCAL_BASE, jobs, progress
                )
        transport = WsgiTransport(app, token)
        return run_traffic(transport, LOCAL_BASE, profile, calls, clock, days, seed, progress, staff=staff)


def portable(config: Mapping[str, Any]) -> dict[str, Any]:
    """The app's settings that can be sent to another process; not the clock (a shard has its own)."""
    settings = {}
    for key, value in config.items():
        if key == "IVR_CLOCK":
            continue
        try:
            pickle.dumps(value)
        except (pickle.PicklingError, TypeError, AttributeError):
            continue
        settings[key] = value
    return settings


_progress: Any = None  # in a shard's process: the queue its finished calls are counted on, then Written


@dataclass(frozen=True)
class Written:
    """A shard's message that it wrote all it will: its copy of the database can be merged."""

    shard: int


@dataclass(frozen=True)
class ShardTask:
    """What a shard's process needs: the app's settings, the token, the profile, the shard and its agents."""

    settings: dict[str, Any]
    token: str
    profile: Profile
    shard: Shard
    staff: Staff
    base_url: str
    latencies: bool
    copy: tuple[str, str] | None = None  # SQLite: the snapshot to copy, and where this shard writes


def _counting(queue: Any) -> None:
    global _progress
    _progress = queue


def run_shard(task: ShardTask) -> TrafficResult:
    """Run one shard in this process, with an app of its own on the run's database."""
    from .. import create_app

    began, cpu = time.perf_counter(), time.process_time()
    clock = VirtualClock(task.shard.start)
    settings = task.settings | {"FLOWS_WATCH": False}  # the run's flows are published already
    if task.copy is not None:
        start_shard(*task.copy)
        settings["DATABASE_URL"] = f"sqlite:///{task.copy[1]}"
    app = create_app(settings)
    app.config["IVR_CLOCK"] = clock.now
    transport = WsgiTransport(app, task.token)
    transport.latencies = [] if task.latencies else None
    count = _progress.put if _progress is not None else None
    try:
        result = run_traffic(
            transport, task.base_url, task.profile, len(task.shard.arrivals), clock, 1, None, count,
            staff=task.staff, shard=task.shard,
        )  # fmt: skip
    finally:
        replayer(app).wait()  # a journal replay this shard began writes to its copy: before the merge
        app.extensions["ivr.db"].engine.dispose()
    if _progress is not None:
        _progress.put(Written(task.shard.index))  # its copy can be merged while its result is sent
    load = Load(
        transport.requests,
        transport.in_app,
        transport.app_cpu,
        time.process_time() - cpu,
        time.perf_counter() - began,
        transport.latencies or [],
    )
    light = result.light()
    return TrafficResult(light.calls, light.agent_legs, [load])


_fork_server_started = False  # by shard_processes, in this process


def shard_processes() -> BaseContext:
    """Where shards run: processes forked from a fork server, a fresh interpreter that imported ivr once
    (this process holds threads and database connections: forking it is out). The server starts at the
    first call and lives as long as this process; it imports meanwhile."""
    global _fork_server_started
    context = multiprocessing.get_context("forkserver")
    if _fork_server_started:
        return context
    context.set_forkserver_preload(SHARD_PRELOAD)  # no effect once it runs: it has them already
    # it imports from this process's sys.path (Python 3.11's fork server ignores the one it is sent: ivr
    # would come from wherever the interpreter finds it by default, an installed copy, say); the environment
    # is changed only here, before the run starts threads that may read it
    given = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    try:
        forkserver.ensure_running()
    finally:
        if given is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = given
    _fork_server_started = True
    return context


def run_shards(
    settings: dict[str, Any], token: str, profile: Profile, shards: list[Shard], staff: Staff, base_url: str,
    jobs: int, progress: Callable[[int], None] | None = None, latencies: bool = False,
) -> TrafficResult:  # fmt: skip
    """Run the shards in `jobs` processes of their own (shard_processes), each with an app of its own.

    On a SQLite file each shard writes to a copy of the database as the run began, merged back in shard
    order as the shards end (ivr.sim.shard_files); elsewhere they share the database. The result is the
    shards' results in shard order, whatever order they finish in.
    """
    context = shard_processes()
    queue = context.Queue()
    files = _shard_files(settings)
    try:
        tasks = [
            ShardTask(
                settings, token, profile, shard, staff, base_url, latencies,
                (files.base, files.path_for(shard.index)) if files else None,
            )
            for shard in shards
        ]  # fmt: skip
        with ProcessPoolExecutor(
            min(jobs, len(shards)), context, initializer=_counting, initargs=(queue,)
        ) as pool:
            futures = [pool.submit(run_shard, task) for task in tasks]
            written: set[int] = set()
            merged = 0  # the shards before this one are merged (or failed)
            while merged < len(futures):
                while merged < len(futures):
                    future, index = futures[merged], shards[merged].index
                    if index not in written and not future.done():
                        break
                    if files is not None and (index in written or future.exception() is None):
                        _merge(files, index, _busy_seconds(settings))  # not a failed shard's
                    merged += 1
                try:
                    message = queue.get(timeout=0.05)
                except Empty:
                    continue
                if isinstance(message, Written):
                    written.add(message.shard)
                elif progress is not None:
                    progress(message)
            parts = [future.result() for future in futures]
    except MergeFailed:
        files = None  # its copies stay, for a look at what failed
        raise
    finally:
        if files is not None:
            files.remove()
    while not queue.empty():
        message = queue.get()
        if progress is not None and not isinstance(message, Written):
            progress(message)
    return TrafficResult.joined(parts)


class MergeFailed(Exception):
    """A shard's copy could not be merged into the run's database (the shards before it are)."""


def _merge(files: ShardFiles, index: int, busy_seconds: float) -> None:
    try:
        files.merge(index, busy_seconds)
    except Exception as exc:
        raise MergeFailed(
            f"shard {index} could not be merged into the database ({exc}); the shards before it are in it,"
            f" and the copies are kept in {files.folder}"
        ) from exc


def _shard_files(settings: Mapping[str, Any]) -> ShardFiles | None:
    """The copies the shards write to, on a SQLite file (its snapshot taken now); None on other databases."""
    url = make_url(str(settings["DATABASE_URL"]))
    if url.get_backend_name() != "sqlite" or url.query or not url.database or url.database == ":memory:":
        return None
    files = ShardFiles(url.database)
    files.snapshot()
    return files


def _busy_seconds(settings: Mapping[str, Any]) -> float:
    """How long a merge waits for the database's write lock: as a command's statements would."""
    return Limits(lock=float(settings.get("DB_LOCK_TIMEOUT_SECONDS", 0))).busy_ms / 1000


@contextmanager
def staffed(app: Flask, profile: Profile) -> Iterator[Staff]:
    """The profile's agents as agents of the site's desks, active (with fresh PINs) only while in use.

    Each profile desk is a Twilio queue; its agents belong to the site desk with that queue and call the
    site's first agent line number. Their PINs are random and short-lived, so a cheap hash is enough.
    """
    from sqlalchemy import update

    from ..accounts.agents import set_agent
    from ..db import session
    from ..models import Agent

    with app.app_context():
        published = app.extensions["ivr.flows"].current()
        if published is None:
            raise LookupError(NothingPublished.MESSAGE)
        site = published.site
        if site.agent_line is None or not site.agent_line.numbers:
            raise LookupError("the site has no agent_line numbers: simulated agents cannot call in")
        desk_of = {desk.queue: name for name, desk in site.desks.items() if desk.queue}
        missing = sorted(set(profile.desks) - set(desk_of))
        if missing:
            raise LookupError(f"profile desks {missing} are the queue of no desk in the site")
        staff = Staff(site.agent_line.numbers[0], new_logins(profile.desks))
        for queue, logins in staff.logins.items():
            for slot, login in enumerate(logins, 1):
                name = f"Simulated agent {slot} of {desk_of[queue]}"
                set_agent(session(), login.agent_id, desk_of[queue], login.pin, name, SIMULATED_HASH)
        session().commit()
    try:
        yield staff
    finally:
        with app.app_context():
            retired = [login.agent_id for logins in staff.logins.values() for login in logins]
            session().execute(update(Agent).where(Agent.agent_id.in_(retired)).values(active=False))
            session().commit()
