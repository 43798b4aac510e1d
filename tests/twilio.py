"""A test helper that sends requests as Twilio does: form-encoded, with Twilio's parameters, signed."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any
from xml.etree import ElementTree

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

_numbers = count(1)


def new_sid(prefix: str = "CA") -> str:
    """A fresh, well-formed Twilio SID."""
    return f"{prefix}{next(_numbers):032x}"


@dataclass
class TwilioClient:
    """Sign and post webhook requests to the app."""

    client: FlaskClient
    token: str
    base: str
    account: str = "AC" + "0" * 32
    sequence: dict[str, int] = field(default_factory=dict)

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for this URL and these parameters."""
        return str(RequestValidator(self.token).compute_signature(url, params))

    def post(self, url: str, params: dict[str, str], signature: str | None = None, **kw: Any) -> TestResponse:
        """POST `params` to an absolute or app-relative URL, signed unless a signature is given."""
        full = url if url.startswith("http") else self.base + url
        sig = self.sign(full, params) if signature is None else signature
        headers = {"X-Twilio-Signature": sig} if sig else {}
        return self.client.post(full, data=params, headers=headers, **kw)

    def call_params(
        self,
        sid: str,
        caller: str = "+15125550199",
        called: str = "+15125550100",
        status: str = "ringing",
        **extra: str,
    ) -> dict[str, str]:
        """The parameters Twilio sends on every voice request."""
        return {
            "CallSid": sid, "AccountSid": self.account, "From": caller, "To": called, "CallStatus": status,
            "ApiVersion": "2010-04-01", "Direction": "inbound", "Caller": caller, "Called": called,
        } | extra  # fmt: skip

    def status(self, sid: str, status: str, sequence: int, **extra: str) -> TestResponse:
        """Post a status callback."""
        return self.post(
            "/voice/status", self.call_params(sid, status=status, SequenceNumber=str(sequence), **extra)
        )


def parse(response: TestResponse) -> ElementTree.Element:
    """The TwiML of a response, checked to be text/xml with <Response> at the root."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert body.startswith("<?xml"), body[:40]
    root = ElementTree.fromstring(body)
    assert root.tag == "Response"
    return root
