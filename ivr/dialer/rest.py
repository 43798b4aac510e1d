"""Twilio's Calls API through the twilio package, pointed at TWILIO_API_BASE_URL, errors sorted by what to do.
Retryable, Uncertain, Rejected or Unknown: docs/dialer.md, "Twilio's answers" and "Inside the worker"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import MaxRetryError, NewConnectionError

TWILIO_API = "https://api.twilio.com"
EVENTS = ["initiated", "ringing", "answered", "completed"]
AMD = {"message": "DetectMessageEnd", "hangup": "Enable"}  # campaigns.machine_detection -> MachineDetection
TIMEOUT = 15.0  # seconds for one REST request
LOOKUP_PAGE = 20  # the newest calls to a number that recovery looks through
# How much earlier than requested_at Twilio may date a call (clock skew). Kept well below the shortest
# spacing between two attempts of a contact (ivr.campaigns.rules.MIN_RETRY, 60 s), so the previous
# attempt's call is never taken for this one.
CLOCK_SKEW = timedelta(seconds=20)


class LateSlot(Exception):
    """The request would start too long after its pacing slot: take a new slot instead."""


class ApiError(Exception):
    """Twilio answered with an error."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}, error {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Retryable(ApiError):
    """Twilio did not take the request (429, 5xx, no connection): send it again after a while."""


class Uncertain(ApiError):
    """Twilio failed (5xx) after perhaps creating the call: look for it before sending again."""


class Rejected(ApiError):
    """Twilio refused the call (4xx): its code and message say why."""


class Unknown(Exception):
    """The request went out but no answer came back: the call may or may not exist."""


@dataclass(frozen=True)
class CallRequest:
    """The parameters of one Calls.create."""

    to: str
    from_: str
    url: str
    status_callback: str
    machine_detection: str | None = None  # Enable or DetectMessageEnd

    def params(self) -> dict[str, Any]:
        """Keyword arguments for twilio's calls.create."""
        extra = {"machine_detection": self.machine_detection} if self.machine_detection else {}
        return {
            "to": self.to,
            "from_": self.from_,
            "url": self.url,
            "status_callback": self.status_callback,
            "status_callback_event": EVENTS,
            "status_callback_method": "POST",
            **extra,
        }


@dataclass(frozen=True)
class FoundCall:
    """A call Twilio's call list has for a number."""

    sid: str
    status: str
    answered_by: str | None
    duration: int | None = None


class ApiHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """twilio's HTTP client sent to `base_url` instead of api.twilio.com, with the pacing guard.

    `pace(slot, late)` arms the guard for the next request of this client: it raises LateSlot when that
    request would start more than `late` seconds after `slot` (a wall-clock timestamp), so a worker that
    woke up late never crowds the calls after it into one second. `on_request` (tests, benchmarks) hears
    of every request just before it goes out.
    """

    def __init__(self, base_url: str = TWILIO_API, timeout: float = TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.slot: tuple[float, float] | None = None
        self.now: Callable[[], float] = time.time
        self.on_request: Callable[[float, str, str, dict[str, Any]], None] | None = None

    def pace(self, slot: float, late: float) -> None:
        """Arm the guard for the next request: it must start within `late` seconds after `slot`."""
        self.slot = (slot, late)

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
        """Send the request to base_url, after the pacing guard."""
        url = self.before(method, url, params, data)
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)

    def before(
        self, method: str, url: str, params: dict[str, object] | None, data: dict[str, object] | None
    ) -> str:
        """Apply the pacing guard (LateSlot) and tell on_request; the URL to send the request to."""
        if url.startswith(TWILIO_API):
            url = self.base_url + url.removeprefix(TWILIO_API)
        moment = self.now()
        if self.slot is not None:
            slot, late = self.slot
            self.slot = None
            if moment - slot > late:
                raise LateSlot(f"{moment - slot:.4f} s after the slot")
        if self.on_request is not None:
            self.on_request(moment, method, url, dict(data or {}) | dict(params or {}))
        return url


def _message(exc: TwilioRestException | TwilioServiceException) -> str:
    """Twilio's own error message, without the client library's "Unable to create record: " prefix."""
    if isinstance(exc, TwilioServiceException):
        return f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title)
    return str(exc.msg).removeprefix("Unable to create record").removeprefix(": ") or f"HTTP {exc.status}"


def _no_connection(error: requests.ConnectionError) -> bool:
    """Whether the request never left: the connection could not be made at all."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


class TwilioRest:
    """The Calls API for the worker's threads (one client each: twilio's client keeps per-request state)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = TWILIO_API,
        http_client: Callable[[], ApiHttpClient] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.make_http = http_client or (lambda: ApiHttpClient(base_url))
        self.local = threading.local()

    def client(self) -> tuple[Client, ApiHttpClient]:
        """This thread's twilio client and its HTTP client."""
        if not hasattr(self.local, "client"):
            http = self.make_http()
            self.local.http = http
            client = Client(self.account_sid, self.auth_token, http_client=http)
            _ = client.api.v2010.account.calls  # the client loads its API modules now, not at a slot
            self.local.client = client
        return self.local.client, self.local.http

    def place(self, call: CallRequest, slot: float | None = None, late: float = 0.0) -> str:
        """Create the call; its CallSid. Raises LateSlot, Retryable, Uncertain, Rejected or Unknown."""
        client, http = self.client()
        if slot is not None:
            http.pace(slot, late)
        try:
            created = client.calls.create(**call.params())
        except (TwilioRestException, TwilioServiceException) as exc:
            status = int(exc.status)
            kind = Retryable if status == 429 else Uncertain if status >= 500 else Rejected
            raise kind(status, exc.code, _message(exc)) from None
        except requests.ConnectionError as exc:
            if _no_connection(exc):
                raise Retryable(0, None, f"no connection: {exc}") from None
            raise Unknown(str(exc)) from None
        except requests.RequestException as exc:
            raise Unknown(str(exc)) from None
        finally:
            http.slot = None
        return str(created.sid)

    def find(self, to: str, from_: str, since: datetime, known: Collection[str] = ()) -> FoundCall | None:
        """A call Twilio has from `from_` to `to` created at `since` or later (give or take clock skew).

        Calls whose CallSid is in `known` (already another attempt's) are passed over.
        """
        client, _http = self.client()
        page = client.calls.page(to=to, from_=from_, page_size=LOOKUP_PAGE)
        for call in page:
            created = call.date_created
            if call.to != to or not isinstance(created, datetime) or created < since - CLOCK_SKEW:
                continue
            if str(call.sid) in known:
                continue
            return FoundCall(str(call.sid), str(call.status), call.answered_by)
        return None

    def fetch(self, sid: str) -> FoundCall:
        """One call by its CallSid (GET Calls/{Sid}.json): its status, AnsweredBy and duration."""
        client, _http = self.client()
        call = client.calls(sid).fetch()
        duration = int(call.duration) if call.duration and str(call.duration).isdigit() else None
        return FoundCall(str(call.sid), str(call.status), call.answered_by, duration)
