"""benchmarks/faults.py: its proxy holds traffic and resumes it; its comparison finds what the log lacks."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.models import Call, CallEvent
from ivr.sim import VirtualClock, WsgiTransport

from ..conftest import AUTH_TOKEN, OPEN

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_faults", ROOT / "benchmarks" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


faults = _load()


class Echo:
    """A loopback server that sends back what it reads and remembers it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                self.received += data
                conn.sendall(data)


def receive(sock: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        if not chunk:
            break
        got += chunk
    return got


def test_the_proxy_forwards_holds_everything_while_paused_then_resumes():
    echo = Echo()
    proxy = faults.Proxy(("127.0.0.1", echo.port)).start()
    with (
        contextlib.closing(echo.listener),
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client,
    ):
        try:
            client.sendall(b"ping")
            assert receive(client, 4) == b"ping"

            proxy.pause()
            client.sendall(b"held")
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as late:  # still accepted
                late.sendall(b"late")
                client.settimeout(0.5)
                with pytest.raises(TimeoutError):
                    client.recv(4)
                assert bytes(echo.received) == b"ping"  # nothing went through

                proxy.resume()
                client.settimeout(10)
                assert receive(client, 4) == b"held"
                assert receive(late, 4) == b"late"
        finally:
            proxy.close()
        assert client.recv(4) == b""  # closing the proxy closes its connections


def test_a_whole_logged_call_misses_nothing_and_lost_rows_are_counted(app: Flask, session: Session):
    clock = VirtualClock(OPEN)
    app.config["IVR_CLOCK"] = clock.now
    call = faults.CallLog("")
    recorder = faults.Recorder(WsgiTransport(app, AUTH_TOKEN), call, began=0.0)
    faults.run_call(recorder, "https://ivr.test", 1, clock, call)
    answered = [e for e in call.exchanges if e.answered]
    paths = {e.path for e in answered}
    assert {"/voice/incoming", "/voice/status", "/voice/step/main/queue/wait"} <= paths
    assert len(answered) == len(call.exchanges)

    def missing() -> tuple[int, int]:
        found = faults.find_missing([call], faults.read_log(app.config["DATABASE_URL"], [call.sid]))
        assert (found.answered_calls, found.answered_steps) == (1, len(answered))
        return found.calls, found.steps

    assert missing() == (0, 0)

    call_id = session.scalar(select(Call.id).where(Call.call_sid == call.sid))
    session.execute(
        delete(CallEvent).where(
            CallEvent.call_id == call_id, CallEvent.kind == "queue_wait", CallEvent.node == "queue"
        )
    )
    session.commit()
    waits = sum(1 for e in answered if e.path == "/voice/step/main/queue/wait")
    assert missing() == (0, waits)

    session.execute(delete(Call).where(Call.id == call_id))
    session.commit()
    assert missing() == (1, len(answered))


def exchange(path: str, status: int = 200, **params: str) -> object:
    return faults.Exchange(path, {"CallSid": "CA1", **params}, status, 0.01, 0.0)


def test_each_event_accounts_for_one_answered_request_and_unanswered_ones_are_not_expected():
    event = faults.LoggedEvent
    call = faults.CallLog(
        "CA1",
        [
            exchange("/voice/incoming"),
            exchange("/voice/status", 204, SequenceNumber="0"),
            exchange("/voice/status", 204, SequenceNumber="1"),  # no status event with sequence 1
            exchange("/voice/step/main/queue/wait"),
            exchange("/voice/step/main/queue/wait"),  # one queue_wait event for two answered waits
            exchange("/voice/step/main/queue/result", 500),  # not answered: not expected in the log
            exchange("/voice/step/main/survey/input", 0),  # no answer at all
            exchange("/voice/step/main/language/input?x=1"),  # answered with the fallback: an error event
        ],
    )
    logged = {
        "CA1": [
            event("flow_started", None, {"flow": "main"}),
            event("status", None, {"status": "ringing", "sequence": 0}),
            event("queue_wait", "queue", {"position": 1}),
            event("prompt", "queue", {}),
            event("error", "language", {"path": "/voice/step/main/language/input", "error": "down"}),
        ]
    }
    found = faults.find_missing([call], logged)
    assert (found.calls, found.steps, found.answered_calls, found.answered_steps) == (0, 2, 1, 6)
    assert (faults.find_missing([call], {}).calls, faults.find_missing([call], {}).steps) == (1, 6)
    unanswered = faults.CallLog("CA2", [exchange("/voice/incoming", 0)])
    assert faults.find_missing([unanswered], {}).calls == 0


def test_the_command_line_picks_faults_and_the_procfile_web_line_is_read():
    args = faults.parse_args(["--quick", "--only", "a, c"])
    assert args.letters == {"a", "c"}
    assert faults.settings_for(args).lock < faults.settings_for(faults.parse_args([])).lock
    with pytest.raises(SystemExit):
        faults.parse_args(["--only", "a,x"])
    assert "$PORT" in faults.procfile_line("web")
