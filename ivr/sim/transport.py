"""How the simulator reaches the app: in-process through WSGI, or over HTTP at a base URL; always signed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import requests
from flask import Flask
from twilio.request_validator import RequestValidator

from ..voice.security import SIMULATED_TIME
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


class Signer:
    """Computes X-Twilio-Signature with the account's auth token."""

    def __init__(self, token: str) -> None:
        self.validator = RequestValidator(token)

    def headers(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """The headers Twilio sends with a webhook."""
        signature = self.validator.compute_signature(url, params)
        return {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1 (ivr simulator)"}


class WsgiTransport:
    """Requests straight into a Flask app, in this process."""

    def __init__(self, app: Flask, token: str) -> None:
        self.client = app.test_client()
        self.signer = Signer(token)

    def post(self, url: str, params: dict[str, str]) -> Reply:
        """POST through the WSGI interface."""
        parts = urlsplit(url)
        response = self.client.post(
            parts.path + (f"?{parts.query}" if parts.query else ""),
            base_url=f"{parts.scheme}://{parts.netloc}",
            data=params,
            headers=self.signer.headers(url, params),
        )
        return Reply(response.status_code, response.content_type or "", response.get_data())


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
