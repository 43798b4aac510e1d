"""Twilio's REST API mocked by Stoplight Prism, and what the dialer tests put in front of it.

- `start_prism()`: Prism (node_modules, installed by `npm ci`: see the Makefile) serving the Twilio spec of
  tests/data/twilio-oai (a copy of github.com/twilio/twilio-oai), patched so that repeated form fields
  (StatusCallbackEvent) validate, with `-d` (distinct SIDs). Prism answers 422 to any request that breaks
  the spec.
- `RecordingHttpClient`: the dialer's own HTTP client, recording every request with Prism's answer, able
  to answer some requests itself first (429, 5xx, 4xx faults), telling a carrier simulator of each call
  Prism took, and answering call-list look-ups from the calls taken (after Prism validated the request).
- `TwilioProxy`: the same for a worker in another process: an HTTP server in front of Prism that records
  creates, can hold one answer back (to kill the worker while its request is in flight), and answers
  call-list look-ups from the calls taken.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from twilio.http.response import Response

from ivr.dialer.rest import ApiHttpClient

from .servers import serving

ROOT = Path(__file__).resolve().parent.parent
# Twilio's OpenAPI description (twilio/twilio-oai 2.6.7, MIT, see tests/data/twilio-oai/README.md), kept
# gzipped in the repository so the tests run on a fresh clone with nothing from outside it.
SPEC = Path(__file__).resolve().parent / "data" / "twilio-oai" / "twilio_api_v2010.json.gz"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
CALLS = "/Calls.json"
STARTUP_SECONDS = 120.0


def patched_spec(folder: Path) -> Path:
    """The spec with `encoding` (style form, explode) for every array field of a form body."""
    spec = json.loads(gzip.decompress(SPEC.read_bytes()))
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            body = (
                operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            )
            if not body:
                continue
            properties = body["schema"].get("properties", {})
            arrays = [name for name, prop in properties.items() if prop.get("type") == "array"]
            if arrays:
                body["encoding"] = {name: {"style": "form", "explode": True} for name in arrays}
    target = folder / "twilio_api_v2010.json"
    target.write_text(json.dumps(spec))
    return target


@contextmanager
def start_prism(folder: Path) -> Iterator[str]:
    """Prism mocking Twilio's API on a free port; its base URL."""
    assert PRISM.exists(), f"{PRISM} is missing: run `npm ci` at the project root (make test does)"
    assert shutil.which("node"), "Prism needs node"
    spec = patched_spec(folder)

    def command(port: int) -> list[str]:
        return [str(PRISM), "mock", "-d", "-h", "127.0.0.1", "-p", str(port), str(spec)]

    env = os.environ | {"SCARF_ANALYTICS": "false"}
    with serving(command, env, folder, "Prism is listening on", "EADDRINUSE", STARTUP_SECONDS) as port:
        yield f"http://127.0.0.1:{port}"


def _form(data: dict[str, Any]) -> dict[str, Any]:
    """Form fields as posted: a list for a repeated field, else the value as text."""
    return {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in data.items()}


def call_list(template: dict[str, Any], calls: list[Taken], to: str, from_: str) -> dict[str, Any]:
    """A call-list page (Prism's, for its shape) with the calls taken from `from_` to `to`, newest first."""
    page = dict(template)
    first = (template.get("calls") or [{}])[0]
    page["calls"] = [
        {**first, "sid": c.sid, "to": c.to, "from": c.from_, "status": "queued", "answered_by": None,
         "date_created": format_datetime(c.at, usegmt=True)}
        for c in reversed(calls)
        if c.to == to and c.from_ == from_
    ]  # fmt: skip
    page["next_page_uri"] = None
    return page


@dataclass(frozen=True)
class Taken:
    """A call Prism took."""

    sid: str
    to: str
    from_: str
    at: datetime
    params: dict[str, Any]


@dataclass
class Sent:
    """One request the dialer made, with the answer it got."""

    at: float  # time.time() just before it went out (after the pacing guard)
    method: str
    url: str
    params: dict[str, Any]
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)


class Record:
    """Everything the dialer asked Twilio, shared by the HTTP clients of every thread."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.taken: list[Taken] = []
        self.faults: dict[str, list[tuple[int, int, str]]] = {}  # number -> answers to give first
        # number -> error answers given AFTER Prism took the call (Twilio failed once the call existed)
        self.lost: dict[str, list[tuple[int, int, str]]] = {}
        self.calls: dict[str, dict[str, Any]] = {}  # CallSid -> fields a call fetch answers
        # number -> how many more call-list answers leave out its calls (Twilio's list lagging behind)
        self.unlisted: dict[str, int] = {}
        self.on_taken: Callable[[str, dict[str, Any]], None] | None = None
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.lock = threading.Lock()

    def creates(self) -> list[Sent]:
        """The Calls.create requests, in order."""
        with self.lock:
            return [s for s in self.sent if s.method == "POST" and s.url.endswith(CALLS)]


def _fault(record: Record, url: str, data: dict[str, object] | None, lost: bool = False) -> Response | None:
    """The next fault queued for this request's number (`lost`: after the call was taken), as an answer."""
    if not url.endswith(CALLS) or not data:
        return None
    with record.lock:
        queued = (record.lost if lost else record.faults).get(str(data.get("To", "")))
        if not queued:
            return None
        status, code, message = queued.pop(0)
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Response(status, json.dumps(body | {"status": status}))


class RecordingHttpClient(ApiHttpClient):
    """The dialer's HTTP client (one per thread), recording into a shared Record.

    A fault queued for the number called is answered instead of asking Prism (after the pacing guard,
    like a real request); a `lost` fault is answered after Prism took the call; a call Prism took goes
    to the record's carrier; a call-list answer is replaced by the calls taken, and a call fetch's fields
    by the record's `calls` (Prism validated the request).
    """

    def __init__(self, base_url: str, record: Record) -> None:
        super().__init__(base_url)
        self.record = record
        self.last: Sent | None = None
        self.on_request = self._note

    def _note(self, at: float, method: str, url: str, params: dict[str, Any]) -> None:
        self.last = Sent(at, method, url, _form(params))
        with self.record.lock:
            self.record.sent.append(self.last)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """A queued fault, else Prism's answer; recorded."""
        self.last = None
        fault = _fault(self.record, url, data)
        if fault is None:
            response = super().request(method, url, params, data, headers, auth, timeout, allow_redirects)
        else:
            self.before(method, url, params, data)
            response = fault
        response = self._after(response)
        lost = _fault(self.record, url, data, lost=True) if fault is None else None
        return response if lost is None else lost

    def _after(self, response: Response) -> Response:
        sent = self.last
        if sent is None:
            return response
        sent.status = response.status_code
        try:
            sent.body = json.loads(response.text)
        except ValueError:
            sent.body = {}
        if sent.method == "POST" and sent.url.endswith(CALLS) and response.status_code == 201:
            params = sent.params
            taken = Taken(sent.body["sid"], params["To"], params["From"], self.record.now(), params)
            with self.record.lock:
                self.record.taken.append(taken)
            if self.record.on_taken is not None:
                self.record.on_taken(taken.sid, params)
        if sent.method == "GET" and sent.url.endswith(CALLS) and response.status_code == 200:
            to = str(sent.params.get("To", ""))
            with self.record.lock:
                calls = list(self.record.taken)
                if self.record.unlisted.get(to, 0) > 0:
                    self.record.unlisted[to] -= 1
                    calls = [c for c in calls if c.to != to]
            page = call_list(
                sent.body, calls, str(sent.params.get("To", "")), str(sent.params.get("From", ""))
            )
            return Response(200, json.dumps(page), response.headers)
        sid = sent.url.rsplit("/", 1)[-1].removesuffix(".json")
        if sent.method == "GET" and sid in self.record.calls and response.status_code == 200:
            body = sent.body | {"sid": sid} | self.record.calls[sid]
            return Response(200, json.dumps(body), response.headers)
        return response


class TwilioProxy:
    """An HTTP server in front of Prism for a worker in another process (see the module docstring)."""

    def __init__(self, prism_url: str) -> None:
        self.prism = prism_url
        self.taken: list[Taken] = []
        self.creates: list[dict[str, Any]] = []  # every create request that reached Twilio
        self.lists: list[dict[str, Any]] = []
        self.hold_at: int | None = None  # hold the answer to this create (1-based) until released
        self.holding = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TwilioProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Forward to Prism; record creates (and hold one back), answer call lists from the calls taken."""
        target = self.prism + path + (f"?{query}" if query else "")
        reply = requests.request(method, target, data=body, headers=headers, timeout=30)
        status, content = reply.status_code, reply.content
        if path.endswith(CALLS) and method == "POST":
            form = {k: v if k == "StatusCallbackEvent" else v[0] for k, v in parse_qs(body.decode()).items()}
            with self.lock:
                self.creates.append(form)
                number = len(self.creates)
                if status == 201:
                    sid = reply.json()["sid"]
                    self.taken.append(Taken(sid, form["To"], form["From"], datetime.now(UTC), form))
            if number == self.hold_at:
                self.holding.set()
                self.release.wait(60)
        elif path.endswith(CALLS) and method == "GET" and status == 200:
            params = {k: v[0] for k, v in parse_qs(query).items()}
            with self.lock:
                self.lists.append(params)
                taken = list(self.taken)
            content = json.dumps(
                call_list(reply.json(), taken, params.get("To", ""), params.get("From", ""))
            ).encode()
        return status, content

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "authorization", "accept")
                }
                status, content = proxy.answer(self.command, parts.path, parts.query, body, headers)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the worker was killed while we held its answer

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
