"""How the simulator reaches the app: in-process through WSGI, or over HTTP at a base URL; always signed."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from time import perf_counter, process_time
from typing import Any, Protocol
from urllib.parse import SplitResult, quote_plus, unquote_to_bytes, urlsplit

import requests
from flask import Flask

from ..voice.security import SIMULATED_TIME, pairs_signature
from .people import Clock


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes


class Transport(Protocol):
    """Posts a signed form to an absolute URL, as Twilio does."""

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST `params` to `url` with X-Twilio-Signature."""
        ...


USER_AGENT = "TwilioProxy/1.1 (ivr simulator)"
_quoted = lru_cache(maxsize=8192)(quote_plus)  # form encoding: a call's sids, numbers and statuses recur


@lru_cache(maxsize=1024)
def _target(url: str) -> tuple[SplitResult, str]:
    """A URL's parts and its WSGI PATH_INFO (the raw bytes as latin-1): a run posts to a few dozen URLs."""
    parts = urlsplit(url)
    return parts, unquote_to_bytes(parts.path).decode("latin-1")


class Signer:
    """Computes X-Twilio-Signature with the account's auth token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def signature(self, url: str, params: dict[str, str]) -> str:
        """Twilio's HMAC-SHA1 signature, as the app computes it: the URL then each parameter's name and
        value, sorted by name."""
        return pairs_signature(self.token, url, params.items()).decode("ascii")

    def headers(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """The headers Twilio sends with a webhook."""
        return {"X-Twilio-Signature": self.signature(url, params), "User-Agent": USER_AGENT}


class WsgiTransport:
    """Requests straight into a Flask app, in this process: the WSGI environ a server would build.

    The whole app answers (its signature check, hooks and routes); only the HTTP server is left out.
    For benchmarks/simulator.py: `requests` counts the requests, `in_app` and `app_cpu` add up the wall and
    CPU seconds spent inside the app, and `latencies`, when a list, gets each request's wall seconds.
    """

    def __init__(self, app: Flask, token: str) -> None:
        self.app = app
        self.signer = Signer(token)
        self.bases: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.in_app = 0.0
        self.app_cpu = 0.0
        self.latencies: list[float] | None = None  # each request's seconds in the app, when a list

    def _base(self, parts: SplitResult) -> dict[str, Any]:
        """The environ keys shared by every request to one host."""
        scheme, netloc = parts.scheme, parts.netloc
        base = self.bases.get(scheme + netloc)
        if base is None:
            port = parts.port or (443 if scheme == "https" else 80)
            base = {
                "REQUEST_METHOD": "POST",
                "SCRIPT_NAME": "",
                "SERVER_NAME": parts.hostname or "",
                "SERVER_PORT": str(port),
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": netloc,
                "HTTP_USER_AGENT": USER_AGENT,
                "REMOTE_ADDR": "127.0.0.1",
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": scheme,
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": False,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            self.bases[scheme + netloc] = base
        return base

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST through the WSGI interface."""
        parts, path = _target(url)
        fields = [f"{_quoted(name)}={_quoted(value)}" for name, value in params.items()]
        body = "&".join(fields).encode("ascii")
        environ = self._base(parts) | {
            "PATH_INFO": path,
            "QUERY_STRING": parts.query,
            "REQUEST_URI": parts.path + (f"?{parts.query}" if parts.query else ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_TWILIO_SIGNATURE": self.signer.signature(url, params),
            "wsgi.input": BytesIO(body),
        }
        answer: list[Any] = [500, []]
        written: list[bytes] = []  # the old write() callable's output, if the app uses it

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [int(status.split(" ", 1)[0]), headers]
            return written.append

        began, cpu = perf_counter(), process_time()
        chunks: Iterable[bytes] = self.app.wsgi_app(environ, start_response)
        try:
            body_out = b"".join([*written, *chunks])
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        spent = perf_counter() - began
        self.requests += 1
        self.in_app += spent
        self.app_cpu += process_time() - cpu
        if self.latencies is not None:
            self.latencies.append(spent)
        status, headers = answer[0], answer[1]
        content_type = next((value for key, value in headers if key.lower() == "content-type"), "")
        return Reply(status, content_type, body_out)


class HttpTransport:
    """Requests over HTTP to a running server."""

    def __init__(self, token: str, timeout: float = 15.0) -> None:
        self.session = requests.Session()
        self.signer = Signer(token)
        self.timeout = timeout  # Twilio gives up after 15 s

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST over the network."""
        headers = self.signer.headers(url, params)
        response = self.session.post(url, data=params, headers=headers, timeout=self.timeout)
        return Reply(response.status_code, response.headers.get("Content-Type", ""), response.content)


class Timed:
    """Another transport's requests, each signed with the simulated time of its moment.

    A server with its own clock (over --url) then logs and routes the call at that time, if it accepts it
    (IVR_SIMULATED_TIME=1; voice/security.py simulated_time).
    """

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self.transport = transport
        self.clock = clock

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST with IvrSimulatedTime added (it is signed with the rest)."""
        return self.transport.post(url, params | {SIMULATED_TIME: self.clock.now().isoformat()})
