"""Outbound calls in the simulator: Twilio's side of the calls the dialer places through the Calls API.
Each callee's `fate` decides the call (docs/simulator.md, "How it works")."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .call import CallResult, SimulatedCall
from .clock import VirtualClock
from .document import TwimlError, read
from .people import Agents, Caller
from .transport import Transport

FATES = ("human", "machine", "busy", "no-answer", "failed")
EVENT_OF = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}  # else completed
RING_TIMEOUT = 60.0  # Twilio's default Timeout


@dataclass
class Callee:
    """Who (or what) is at the number called, and how they behave."""

    fate: str = "human"
    caller: Caller = field(default_factory=Caller)  # a person's (or machine's) answers to prompts
    ring_seconds: float = 6.0
    greeting_seconds: float = 15.0  # a machine's greeting, until the beep


@dataclass(frozen=True)
class Placed:
    """A call the Calls API took: the parameters posted (StatusCallbackEvent a list) and its CallSid."""

    sid: str
    params: Mapping[str, Any]

    def value(self, name: str) -> str:
        """One parameter as text ('' when absent)."""
        raw = self.params.get(name, "")
        return str(raw[0] if isinstance(raw, list) and raw else raw or "")

    def events(self) -> set[str]:
        """The status callback events asked for (completed only, when none)."""
        raw = self.params.get("StatusCallbackEvent") or ["completed"]
        return set(raw if isinstance(raw, list) else [raw])


class OutboundCall(SimulatedCall):
    """One placed call, played from Twilio's side to the end."""

    def __init__(
        self,
        transport: Transport,
        placed: Placed,
        callee: Callee,
        clock: VirtualClock,
        agents: Agents | None = None,
        account_sid: str = "AC" + "0" * 32,
    ) -> None:
        url = placed.value("Url")
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        super().__init__(
            transport,
            base,
            placed.value("From"),
            placed.value("To"),
            clock,
            callee.caller,
            agents,
            account_sid,
        )
        self.placed = placed
        self.callee = callee
        self.sid = placed.sid
        self.base["CallSid"] = placed.sid
        self.base["Direction"] = "outbound-api"
        self.answered_by: dict[str, str] = {}

    def status_callback(self, status: str, **extra: str) -> None:
        """A status callback to the call's StatusCallback, if its event was asked for."""
        url = self.placed.value("StatusCallback")
        if not url or EVENT_OF.get(status, "completed") not in self.placed.events():
            return
        timestamp = self.clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        params = {
            "SequenceNumber": str(next(self.sequence)),
            "Timestamp": timestamp,
            **self.answered_by,
            **extra,
        }
        reply = self.send(url, params, status)
        if reply.status >= 300:
            self.status_problems.append(f"status callback {status!r} answered HTTP {reply.status}")

    def detect(self) -> None:
        """Answering machine detection, when asked for: how long it takes and what it reports."""
        mode = self.placed.value("MachineDetection")
        if not mode:
            return
        if self.callee.fate == "human":
            self.clock.advance(2.0)
            self.answered_by = {"AnsweredBy": "human"}
        elif mode == "DetectMessageEnd":
            self.clock.advance(self.callee.greeting_seconds)
            self.answered_by = {"AnsweredBy": "machine_end_beep"}
        else:
            self.clock.advance(3.0)
            self.answered_by = {"AnsweredBy": "machine_start"}
        self.note("twilio", f"machine detection: {self.answered_by['AnsweredBy']}")

    def run(self) -> CallResult:
        """Place the call and play it to the end."""
        self.started = self.clock.now()
        self.status_callback("initiated")
        self.clock.advance(1.0)
        self.status_callback("ringing")
        self.note("twilio", "call ringing", to=self.base["To"], caller=self.base["From"])
        fate = self.callee.fate
        if fate not in ("human", "machine"):
            if fate == "no-answer":
                self.clock.advance(float(self.placed.value("Timeout") or RING_TIMEOUT))
            self.note("twilio", f"call ends: {fate}")
            self.status_callback(fate, CallDuration="0")
            return CallResult(self.sid, self.events, 0, None, self.status_problems)
        self.clock.advance(self.callee.ring_seconds)
        answered = self.clock.now()
        self.note("callee", "a machine answers" if fate == "machine" else "a person answers")
        self.detect()
        error = None
        try:
            url = self.placed.value("Url")
            verbs = read(self.post(url, dict(self.answered_by)))
            self.status_callback("in-progress")
            step = self.execute(verbs, url)
            while step is not None:
                url, extra = step
                verbs = read(self.post(url, extra))
                step = self.execute(verbs, url)
        except TwimlError as exc:
            error = exc
            self.note("twilio", f"error {exc.code}: {exc.message}", code=exc.code)
        duration = int(round((self.clock.now() - answered).total_seconds()))
        self.note("twilio", "call completed", duration=duration)
        self.status_callback("completed", CallDuration=str(duration), Duration=str((duration + 59) // 60))
        return CallResult(self.sid, self.events, duration, error, self.status_problems)


class Carrier:
    """Twilio's side of the calls a dialer places: records each call taken, and plays it when asked.

    `fates(number, n)` says who answers the n-th call (1-based) to a number; everyone answers by default.
    `took()` may be called from any thread (a REST mock's handler); `run_pending()` plays the calls.
    """

    def __init__(
        self,
        transport: Transport,
        clock: VirtualClock,
        fates: Callable[[str, int], Callee] | None = None,
        agents: Agents | None = None,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.fates = fates or (lambda _number, _n: Callee())
        self.agents = agents or Agents()
        self.placed: list[Placed] = []
        self.waiting: deque[Placed] = deque()
        self.results: dict[str, CallResult] = {}
        self.calls_to: Counter[str] = Counter()
        self.lock = threading.Lock()

    def took(self, sid: str, params: Mapping[str, Any]) -> None:
        """The REST API took a call (Calls.create answered 201 with this CallSid)."""
        placed = Placed(sid, dict(params))
        with self.lock:
            self.placed.append(placed)
            self.waiting.append(placed)

    def run_pending(self) -> list[CallResult]:
        """Play every call taken and not played yet, in order."""
        results: list[CallResult] = []
        while True:
            with self.lock:
                if not self.waiting:
                    return results
                placed = self.waiting.popleft()
            number = placed.value("To")
            self.calls_to[number] += 1
            callee = self.fates(number, self.calls_to[number])
            result = OutboundCall(self.transport, placed, callee, self.clock, self.agents).run()
            self.results[placed.sid] = result
            results.append(result)
