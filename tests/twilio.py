"""A test helper that sends requests as Twilio does: form-encoded, with Twilio's parameters, signed."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

from flask.testing import FlaskClient
from lxml import etree
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

    def post(
        self,
        url: str,
        params: dict[str, str],
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        """POST `params` to an absolute or app-relative URL, signed unless a signature is given."""
        full = url if url.startswith("http") else self.base + url
        sig = self.sign(full, params) if signature is None else signature
        sent = dict(headers or {}) | ({"X-Twilio-Signature": sig} if sig else {})
        return self.client.post(full, data=params, headers=sent)

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


def parse(response: TestResponse) -> etree._Element:
    """The TwiML of a response, checked to be text/xml with <Response> at the root."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    body = response.get_data()
    assert body.startswith(b"<?xml"), body[:40]
    root = etree.fromstring(body)
    assert root.tag == "Response"
    return root


def xpath(root: etree._Element, query: str) -> list[Any]:
    """Run an XPath query on a TwiML document."""
    found = root.xpath(query)
    assert isinstance(found, list)
    return found


def one(root: etree._Element, query: str) -> Any:
    """The single result of an XPath query (fails when there is not exactly one)."""
    found = xpath(root, query)
    assert len(found) == 1, f"{query}: {len(found)} results in {etree.tostring(root).decode()}"
    return found[0]


@dataclass
class CallDriver:
    """One call driven step by step: start it, then post to the URLs its TwiML names."""

    twilio: TwilioClient
    sid: str = field(default_factory=new_sid)
    caller: str = "+15125550199"
    called: str = "+15125550100"

    def params(self, **extra: str) -> dict[str, str]:
        """Twilio's parameters for this call plus `extra`."""
        return self.twilio.call_params(self.sid, self.caller, self.called, status="in-progress", **extra)

    def start(self) -> etree._Element:
        """The incoming-call webhook."""
        return parse(
            self.twilio.post("/voice/incoming", self.twilio.call_params(self.sid, self.caller, self.called))
        )

    def post(self, url: str, **extra: str) -> etree._Element:
        """Post to a URL taken from the TwiML, as Twilio would."""
        return parse(self.twilio.post(url, self.params(**extra)))

    def press(self, root: etree._Element, digits: str = "", **extra: str) -> etree._Element:
        """Answer the document's Gather with digits (empty: the timeout Twilio reports)."""
        return self.post(one(root, "//Gather/@action"), Digits=digits, **extra)

    def say(self, root: etree._Element, speech: str, confidence: str = "0.92") -> etree._Element:
        """Answer the document's Gather with speech."""
        return self.post(one(root, "//Gather/@action"), SpeechResult=speech, Confidence=confidence)
