"""One simulated call: plays Twilio's part against the app, verb by verb, on the virtual clock."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from .clock import VirtualClock
from .document import WAIT_VERBS, TwimlError, Verb, read
from .people import Agents, Caller
from .queues import FixedQueues, Queues, Ticket
from .transport import Transport

PLAY_SECONDS = 30.0  # an audio file's length is unknown here: hold music and messages count as 30 s
QUEUE_PARAMS = {"AvgQueueTime": "0", "MaxQueueSize": "1000"}  # position and size come from the queue model
MAX_REQUESTS = 500  # a call that asks for more documents than this is looping
CALL_TIME_LIMIT = 4 * 3600.0  # Twilio ends a call after 4 hours (the default timeLimit)
SECRET_PROMPTS = ("/voice/agent/id", "/voice/agent/pin")  # what is keyed here is shown masked
Next = tuple[str, dict[str, str]] | None


def speaking_time(text: str) -> float:
    """Roughly how long a text takes to say (2.5 words a second)."""
    return 0.5 + len(text.split()) / 2.5


def new_sid(prefix: str) -> str:
    """A well-formed random Twilio SID."""
    return prefix + secrets.token_hex(16)


@dataclass
class Event:
    """One line of the transcript: when (seconds into the call), who, what."""

    at: float
    who: str
    what: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallResult:
    """What happened on a simulated call."""

    call_sid: str
    events: list[Event]
    duration: int
    error: TwimlError | None = None
    status_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when Twilio would have reported no error."""
        return self.error is None and not self.status_problems


class SimulatedCall:
    """Runs one inbound call: the incoming webhook, every document after it, and the status callbacks."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        caller_number: str,
        called_number: str,
        clock: VirtualClock | None = None,
        caller: Caller | None = None,
        agents: Agents | None = None,
        account_sid: str = "AC" + "0" * 32,
        queues: Queues | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.clock = clock or VirtualClock()
        self.caller = caller or Caller()
        self.agents = agents or Agents()
        self.sid = new_sid("CA")
        self.base = {
            "CallSid": self.sid,
            "AccountSid": account_sid,
            "From": caller_number,
            "To": called_number,
            "Caller": caller_number,
            "Called": called_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.events: list[Event] = []
        self.started = self.clock.now()
        self.sequence = itertools.count()
        self.requests = 0
        self.status_problems: list[str] = []
        self.queues: Queues = queues or FixedQueues(self.agents)
        self.waiting_on: Ticket | None = None  # the queue ticket while the caller holds
        self.queue_outcomes: list[tuple[str, str, int]] = []  # (queue, QueueResult, QueueTime)
        self.watch: Callable[[Event], None] | None = None  # shown each line as it happens (ivr simulate)

    # -- bookkeeping -------------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Seconds since the call started, on the virtual clock."""
        return (self.clock.now() - self.started).total_seconds()

    def note(self, who: str, what: str, **data: Any) -> None:
        """Add a transcript line."""
        self.events.append(Event(round(self.elapsed(), 1), who, what, data))
        if self.watch is not None:
            self.watch(self.events[-1])

    def post(self, url: str, extra: dict[str, str], status: str = "in-progress") -> Any:
        """Request a document, as Twilio does, with the call's parameters."""
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            raise TwimlError(11200, f"more than {MAX_REQUESTS} requests on one call: the flow loops")
        return self.send(url, extra, status)

    def send(self, url: str, extra: dict[str, str], status: str) -> Any:
        """POST with the call's parameters (status callbacks too: they do not count as documents)."""
        return self.transport.post(url, {**self.base, "CallStatus": status, **extra})

    def status_callback(self, status: str, **extra: str) -> None:
        """Send a status callback; a non-2xx answer is noted (Twilio logs it in the debugger)."""
        timestamp = self.clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        params = {"SequenceNumber": str(next(self.sequence)), "Timestamp": timestamp, **extra}
        reply = self.send(f"{self.base_url}/voice/status", params, status)
        if reply.status >= 300:
            self.status_problems.append(f"status callback {status!r} answered HTTP {reply.status}")

    # -- the call ----------------------------------------------------------------------------------

    def run(self) -> CallResult:
        """Place the call and play it to the end."""
        self.started = self.clock.now()  # the call may be built before its time comes
        error = None
        self.status_callback("initiated")
        self.status_callback("ringing")
        self.note("twilio", "call ringing", to=self.base["To"], caller=self.base["From"])
        try:
            url = f"{self.base_url}/voice/incoming"
            verbs = read(self.post(url, {}, status="ringing"))  # the first document is asked for ringing
            self.status_callback("in-progress")  # answered
            step = self.execute(verbs, url)
            while step is not None:
                url, extra = step
                verbs = read(self.post(url, extra))
                step = self.execute(verbs, url)
        except TwimlError as exc:
            error = exc
            self.note("twilio", f"error {exc.code}: {exc.message}", code=exc.code)
            self.note("twilio", "says: An application error has occurred. Goodbye.")
        duration = int(round(self.elapsed()))
        self.note("twilio", "call completed", duration=duration)
        self.status_callback("completed", CallDuration=str(duration), Duration=str((duration + 59) // 60))
        return CallResult(self.sid, self.events, duration, error, self.status_problems)

    def execute(self, verbs: list[Verb], url: str) -> Next:
        """Play one document; the next request to make, or None when the call ends."""
        for verb in verbs:
            handler = getattr(self, f"verb_{verb.name.lower()}")
            outcome: Next | bool = handler(verb, url)
            if outcome is True:  # the call is over
                return None
            if outcome:
                return outcome
        self.note("twilio", "end of document: hang up")
        return None

    def prompt(self, verb: Verb, budget: float = float("inf")) -> float:
        """Play a Say, Play or Pause; returns the seconds it took (cut short at `budget`)."""
        loops = max(1, int(verb.number("loop", 1)))
        if verb.name == "Say":
            seconds = speaking_time(verb.text) * loops
            self.note("ivr", f"says: {verb.text}", language=verb.attrs.get("language"))
        elif verb.name == "Play":
            seconds = PLAY_SECONDS * loops
            self.note("ivr", f"plays {verb.text}")
        else:
            seconds = verb.number("length", 1)
        before = self.clock.now()
        self.clock.advance(min(seconds, budget), until=self.waiting_on)  # an agent may cut hold music short
        return (self.clock.now() - before).total_seconds()

    def verb_say(self, verb: Verb, url: str) -> Next | bool:
        self.prompt(verb)
        return None

    verb_play = verb_pause = verb_say

    def verb_gather(self, verb: Verb, url: str) -> Next | bool:
        for child in verb.children:
            self.prompt(child)
        answer = self.caller.next_input()
        action = verb.url("action", url) or url
        modes = verb.attrs.get("input", "dtmf").split()
        digits = self.keyed(verb, answer.digits) if "dtmf" in modes else ""
        speech = answer.speech if "speech" in modes else ""
        if answer.digits and not digits or answer.speech and not speech:
            self.note("caller", "answers in a way this prompt does not listen for")
        if digits or speech:
            if digits:
                self.clock.advance(0.5 * len(answer.digits))
                if action.endswith(SECRET_PROMPTS):  # an agent's id or PIN: the transcript keeps no digits
                    self.note("caller", f"presses {'*' * len(digits)} (an agent's id or PIN)")
                else:
                    self.note("caller", f"presses {answer.digits}", digits=digits)
                finished = verb.attrs.get("finishOnKey", "#")
                return action, {
                    "Digits": digits,
                    "FinishedOnKey": finished if finished in answer.digits else "",
                }
            self.clock.advance(speaking_time(answer.speech))
            self.note("caller", f"says: {answer.speech}", speech=answer.speech)
            return action, {"SpeechResult": answer.speech, "Confidence": f"{answer.confidence:.2f}"}
        self.clock.advance(verb.number("timeout", 5))
        self.note("caller", "stays silent")
        if verb.flag("actionOnEmptyResult"):
            return action, {"Digits": ""}
        return None  # Twilio goes on with the next verb

    @staticmethod
    def keyed(verb: Verb, pressed: str) -> str:
        """The Digits Twilio reports: up to finishOnKey (not included), at most numDigits."""
        finish = verb.attrs.get("finishOnKey", "#")
        if finish and finish in pressed:
            pressed = pressed[: pressed.index(finish)]
        limit = int(verb.number("numDigits", 0))
        return pressed[:limit] if limit else pressed

    def verb_record(self, verb: Verb, url: str) -> Next | bool:
        limit = int(verb.number("maxLength", 3600))
        seconds = min(self.caller.message_seconds, limit)
        self.note("caller", f"leaves a {seconds} s message")
        self.clock.advance(seconds)
        recording = new_sid("RE")
        account = self.base["AccountSid"]
        params = {
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{recording}",
            "RecordingDuration": str(seconds),
            "RecordingSid": recording,
        }
        finish = verb.attrs.get("finishOnKey", "1234567890*#")
        if seconds < limit and finish:  # the caller ends the message with a key; at maxLength Twilio stops
            params["Digits"] = "#" if "#" in finish else finish[0]
        return verb.url("action", url) or url, params

    def verb_redirect(self, verb: Verb, url: str) -> Next | bool:
        return urljoin(url, verb.text), {}

    def verb_hangup(self, verb: Verb, url: str) -> Next | bool:
        self.note("ivr", "hangs up")
        return True

    def verb_reject(self, verb: Verb, url: str) -> Next | bool:
        self.note("ivr", f"rejects the call ({verb.attrs.get('reason', 'rejected')})")
        return True

    def verb_leave(self, verb: Verb, url: str) -> Next | bool:
        return None  # outside a queue, <Leave> does nothing

    def verb_dial(self, verb: Verb, url: str) -> Next | bool:
        queues = [child for child in verb.children if child.name == "Queue"]
        if queues:
            return self.dial_queue(verb, queues[0], url)
        targets = [child.text for child in verb.children] or [verb.text]
        status = self.agents.dial_status
        self.note("twilio", f"dials {', '.join(targets)}")
        self.clock.advance(min(self.agents.ring_seconds, verb.number("timeout", 30)))
        talk = 0
        if status == "completed":
            talk = int(self.agents.talk_seconds)
            self.note("agent", f"answers and talks for {talk} s")
            self.clock.advance(talk)
        else:
            self.note("twilio", f"dial ends: {status}")
        action = verb.url("action", url)
        if action is None:
            return None
        return action, {"DialCallStatus": status, "DialCallDuration": str(talk), "DialCallSid": new_sid("CA")}

    def dial_queue(self, verb: Verb, noun: Verb, url: str) -> Next | bool:
        """<Dial><Queue>: this call (an agent) is bridged to the longest-waiting caller of the queue.

        With nobody waiting, Twilio's Dial "will wait until the next person joins the queue or until the
        <Dial> timeout duration is reached" (twilio.com/docs/voice/twiml/queue). A person who hangs up
        while waiting (an agent whose shift ends) ends the call; Twilio posts a Dial's action "regardless of
        outcome" (its 2008 Dial reference), and this one's answer is ignored. The DialCallStatus of that
        case is not documented: the simulator sends no-answer, with CallStatus completed.
        """
        queue = noun.text
        self.note("twilio", f"dials queue {queue}")
        ticket: Ticket | bool | None = self.queues.take(queue, self)
        if ticket is None:
            ticket = self.wait_in_dial(queue, verb.number("timeout", 30))
        if ticket is True:
            self.note("agent", f"hangs up while waiting for a caller in {queue}")
            action = verb.url("action", url)
            if action:
                self.post(
                    action, {"DialCallStatus": "no-answer", "DialCallDuration": "0"}, status="completed"
                )
            return True
        talk = 0
        if not isinstance(ticket, Ticket):
            status = "no-answer"
            self.note("twilio", f"nobody came to {queue}")
        else:
            caller = ticket.call
            waited = int(round((self.clock.now() - ticket.joined_at).total_seconds()))
            whisper = noun.url("url", url)
            if whisper:  # played to the dequeued caller before the two are connected
                params = {"QueueSid": "QU" + "0" * 32, "QueueTime": str(waited), "DequeingCallSid": self.sid}
                for said in read(caller.send(whisper, params, "in-progress"), {"Say", "Play", "Pause"}):
                    caller.note("ivr", f"whispers: {said.text}")
            status, talk = "completed", int(round(ticket.talk_seconds))
            self.note(
                "agent",
                f"is connected to {caller.base['From']} after {waited} s in {queue}",
                caller=caller.sid,
            )
            self.clock.advance(ticket.talk_seconds)  # the caller's side of the bridge ends at the same moment
            if verb.flag("hangupOnStar"):
                self.note("agent", "presses * and leaves the caller")
        action = verb.url("action", url)
        if action is None:
            return None
        return action, {"DialCallStatus": status, "DialCallDuration": str(talk), "DialCallSid": new_sid("CA")}

    def wait_in_dial(self, queue: str, timeout: float) -> Ticket | bool | None:
        """Wait in a Dial on an empty queue: the caller handed over, True if this person hung up, or None."""
        waiter = self.queues.wait(queue, self)
        budget = timeout
        hang_up = self.caller.hangs_up_at()
        if hang_up is not None:
            budget = min(budget, max(0.0, (hang_up - self.clock.now()).total_seconds()))
        self.clock.advance(budget, until=waiter)
        self.queues.stop_waiting(waiter)
        if waiter.ticket is not None:
            return waiter.ticket
        hang_up = self.caller.hangs_up_at()  # it may have been brought forward meanwhile
        return True if hang_up is not None and self.clock.now() >= hang_up else None

    def verb_enqueue(self, verb: Verb, url: str) -> Next | bool:
        queue = verb.text
        entered = self.clock.now()
        self.note("twilio", f"puts the caller in queue {queue}", queue=queue)
        ticket = self.queues.join(queue, self)
        limit = min(self.caller.patience, CALL_TIME_LIMIT)
        result = None
        wait_url = verb.url("waitUrl", url)
        self.waiting_on = ticket
        while result is None:
            waited = (self.clock.now() - entered).total_seconds()  # whole microseconds: no float drift
            if ticket.answered_at is not None and ticket.answered_at <= self.clock.now():
                result = "bridged"
            elif waited >= limit - 1e-6:  # the clock cannot move by less than a microsecond
                result = "hangup"
            elif wait_url is None:
                self.clock.advance(limit - waited, until=ticket)  # Twilio's own hold music
            else:
                params = QUEUE_PARAMS | {"QueueTime": str(int(waited))} | self.queues.position(ticket)
                verbs = read(self.send(wait_url, params, "in-progress"), WAIT_VERBS)
                result = self.hold(verbs, limit - waited, wait_url, params)
        self.waiting_on = None
        if result != "bridged":
            self.queues.leave(ticket)
        queue_time = int(round((self.clock.now() - entered).total_seconds()))
        self.queue_outcomes.append((queue, result, queue_time))
        if result == "bridged":
            agent = ticket.agent
            self.note("agent", f"{agent} answers after {queue_time} s in the queue", agent=agent, queue=queue)
            self.caller.bridged(queue)
            self.clock.advance(ticket.talk_seconds)
            self.note("agent", f"hangs up after {int(ticket.talk_seconds)} s")
        elif result == "hangup":
            self.note("caller", f"gives up and hangs up after {queue_time} s in the queue")
        else:
            self.note("twilio", f"caller leaves the queue after {queue_time} s")
        action = verb.url("action", url)
        params = {"QueueResult": result, "QueueTime": str(queue_time), "QueueSid": "QU" + "0" * 32}
        if result == "hangup":
            if action:
                self.post(action, params, status="completed")  # Twilio ignores this answer
            return True
        return (action, params) if action else None

    def answered(self) -> bool:
        """Whether an agent has taken the queued caller by now (the hold music then stops)."""
        ticket = self.waiting_on
        return (
            ticket is not None and ticket.answered_at is not None and ticket.answered_at <= self.clock.now()
        )

    def hold(self, verbs: list[Verb], budget: float, url: str, params: dict[str, str]) -> str | None:
        """Play a wait document within `budget` seconds: 'leave', 'hangup', or None to ask again."""
        spent = 0.0
        for verb in verbs:
            if spent >= budget or self.answered():
                return None
            if verb.name == "Leave":
                return "leave"
            if verb.name == "Hangup":
                return "hangup"
            if verb.name == "Redirect":  # the wait music continues with another wait document
                target = urljoin(url, verb.text)
                verbs = read(
                    self.send(target, params, "in-progress")
                )  # wait polls: bounded by time, not count
                return self.hold(verbs, budget - spent, target, params)
            if verb.name == "Gather":
                for child in verb.children:
                    if not self.answered():
                        spent += self.prompt(child, budget - spent)
            elif verb.name in ("Say", "Play", "Pause"):
                spent += self.prompt(verb, budget - spent)
        if spent == 0 and not self.answered():
            self.clock.advance(min(1.0, budget), until=self.waiting_on)  # Twilio never re-asks in zero time
        return None
