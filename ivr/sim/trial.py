"""Try a draft: one simulated call through the webhooks of a throwaway app serving it, replayed from the start
with the answers so far, stopping where the caller must act next (docs/flows.md, "Try it")."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..engine import Bundle, Problem, Site, load_documents
from ..engine.problems import errors
from .call import PLAY_SECONDS, Next, SimulatedCall, speaking_time
from .clock import VirtualClock
from .document import WAIT_VERBS, Verb, read
from .people import Caller, Input
from .transport import WsgiTransport

BASE_URL = "http://ivr.try"
MAX_INPUTS = 50
MAX_DIGITS = 32
MAX_SPEECH = 200
DEFAULT_CALLER = "+15125550123"
UNCLAIMED = "+15005550006"  # given to a flow without numbers, in the try's copy only, so it can be called
CALLER_NUMBER = re.compile(r"\+[1-9][0-9]{6,14}|anonymous")
DIGITS = re.compile(r"[0-9*#]*")
YEARS = (1970, 2199)
LogReader = Callable[[str, int], list[tuple[int, str, str | None, dict[str, Any]]]]


class TrialError(ValueError):
    """A try that cannot be run as asked; the message says what to change (the route answers 400)."""


class _Paused(Exception):
    """The caller must act next and has no answer left."""


@dataclass(frozen=True)
class Trial:
    """A try as asked: which document, who calls, when (the site's local time unless zoned), the answers."""

    document: str
    caller: str = DEFAULT_CALLER
    at: datetime | None = None
    inputs: tuple[Input, ...] = ()
    to: str | None = None


def read_trial(body: object) -> Trial:
    """The try a JSON body asks for; TrialError naming the first thing wrong with it."""
    if not isinstance(body, Mapping):
        raise TrialError("the body must be a JSON object")
    document = body.get("document")
    if not isinstance(document, str) or not document:
        raise TrialError("document: give the file name of the document tried (site.json or a flow file)")
    caller = body.get("from") or DEFAULT_CALLER  # an empty field in the panel: the sample caller
    if not isinstance(caller, str) or not CALLER_NUMBER.fullmatch(caller := re.sub(r"[\s().-]", "", caller)):
        raise TrialError("from: the caller's number in E.164 (+15125550123), or anonymous")
    to = body.get("to") or None
    if to is not None and (not isinstance(to, str) or not CALLER_NUMBER.fullmatch(to)):
        raise TrialError("to: the number called, in E.164 (+15125550100)")
    return Trial(document, caller, _moment(body.get("at")), _inputs(body.get("inputs", [])), to)


def _moment(value: object) -> datetime | None:
    """`at`: an ISO 8601 date and time (local to the site unless it has an offset), or None for now."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TrialError(f"at: {value!r} is not a date and time such as 2026-12-07T10:30") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise TrialError(f"at: choose a year from {YEARS[0]} to {YEARS[1]}")
    return moment


def _inputs(value: object) -> tuple[Input, ...]:
    """`inputs`: the answers in order: {"digits": "1"}, {"speech": "billing"} or {"silence": true}."""
    if not isinstance(value, list):
        raise TrialError('inputs: a list of answers such as {"digits": "1"} or {"speech": "billing"}')
    if len(value) > MAX_INPUTS:
        raise TrialError(f"inputs: at most {MAX_INPUTS} answers in one try")
    answers = []
    for index, item in enumerate(value):
        where = f"inputs[{index}]"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise TrialError(f'{where}: one of {{"digits": ...}}, {{"speech": ...}} or {{"silence": true}}')
        ((kind, given),) = item.items()
        if kind == "digits" and isinstance(given, str) and given and DIGITS.fullmatch(given):
            if len(given) > MAX_DIGITS:
                raise TrialError(f"{where}: at most {MAX_DIGITS} keys at one prompt")
            answers.append(Input(digits=given))
        elif kind == "speech" and isinstance(given, str) and given.strip():
            if len(given) > MAX_SPEECH:
                raise TrialError(f"{where}: at most {MAX_SPEECH} characters of speech")
            answers.append(Input(speech=" ".join(given.split())))
        elif kind == "silence" and given is True:
            answers.append(Input())
        else:
            raise TrialError(f"{where}: digits are keys 0-9, * and #; speech is words; silence is true")
    return tuple(answers)


def local_time(site: Site, trial: Trial, now: datetime) -> datetime:
    """When the call starts (aware): `at` in the site's time zone unless it has its own offset, else now."""
    if trial.at is None:
        return now
    moment = trial.at if trial.at.tzinfo else trial.at.replace(tzinfo=ZoneInfo(site.timezone))
    return moment.astimezone(UTC)


def run_trial(texts: Mapping[str, str], trial: Trial, now: datetime) -> dict[str, Any]:
    """The try as JSON: what the caller heard and did, the nodes passed, and where it stopped.

    With an error among the documents' problems no call is placed: only the problems are returned.
    """
    bundle, problems = load_documents(texts)
    if bundle is None or errors(problems):
        return _answer([], [], None, False, problems, None)
    bundle, number = _callable(bundle, trial)
    site = bundle.build()
    start = local_time(site, trial, now)
    zone = ZoneInfo(site.timezone)
    at = start.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes")
    call = _place(bundle, site, trial, number, start)
    return _answer(call.trial_events, call.path, call.waiting, call.waiting is None, problems, at) | {
        "timezone": site.timezone,
        "to": number,
    }


def _answer(
    events: list[dict[str, Any]], path: list[dict[str, str]], waiting: str | None, ended: bool,
    problems: Sequence[Problem], at: str | None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "events": events,
        "path": path,
        "waiting": waiting,
        "ended": ended,
        "problems": [p.as_dict() for p in problems],
        "at": at,
    }


def _callable(bundle: Bundle, trial: Trial) -> tuple[Bundle, str]:
    """The bundle to serve and the number to call so that the tried document's flow answers.

    The site file tries the default flow. A flow that answers no number is given an unclaimed one in this
    try's copy (a sub-flow reached by goto can be tried by itself).
    """
    if trial.to is not None:
        return bundle, trial.to
    names = {file: name for name, file in bundle.files.items()}
    name = names.get(trial.document) or next((n for n, f in bundle.flows.items() if f.get("default")), None)
    if name is None:
        name = next(iter(bundle.flows))
    numbers = bundle.flows[name].get("numbers") or []
    if numbers:
        return bundle, str(numbers[0])
    if bundle.flows[name].get("default"):
        return bundle, UNCLAIMED
    flows = dict(bundle.flows) | {name: dict(bundle.flows[name]) | {"numbers": [UNCLAIMED]}}
    return replace(bundle, flows=flows), UNCLAIMED


def _place(bundle: Bundle, site: Site, trial: Trial, number: str, start: datetime) -> TrialCall:
    """Run the call against a throwaway app serving `bundle`, then throw the app and its database away."""
    from .sandbox import sandbox

    clock = VirtualClock(start)
    with sandbox(bundle, site, clock) as (app, token, read_log):
        transport = WsgiTransport(app, token)
        caller = Caller.scripted(list(trial.inputs))
        call = TrialCall(transport, BASE_URL, trial.caller, number, clock, caller, site, read_log)
        call.play()
    return call


KINDS = {  # the simulator's transcript lines that TrialCall does not write itself: (who, start) -> kind
    ("caller", "presses"): "input",
    ("caller", "says"): "input",
    ("caller", "stays silent"): "input",
    ("caller", "answers in a way"): "input",
    ("caller", "leaves"): "record",
    ("ivr", "hangs up"): "hangup",
    ("ivr", "rejects"): "hangup",
    ("twilio", "dials"): "dial",
    ("twilio", "error"): "error",
    ("twilio", "says"): "say",
    ("twilio", "end of document"): "hangup",
}
QUIET = ("call ringing", "call completed")  # the carrier's bookkeeping, not part of what the caller lives
LOGGED = {  # call log entries shown to the supervisor: kind -> how (data -> text)
    "route": lambda d: f"routed to desk {d.get('desk')} ({d.get('strategy')}: {d.get('reason')})",
    "hours": lambda d: f"schedule {d.get('schedule')}: {d.get('result')}",
    "goto": lambda d: f"continues in flow {d.get('flow')}",
    "error": lambda d: f"the flow failed: {d.get('error')}",
    "do_not_call": lambda d: (
        f"{d.get('number')} would go on the do-not-call list"
        + ("" if d.get("added") else f" ({d.get('reason')})")
    ),
}


class TrialCall(SimulatedCall):
    """A simulated call for a try: structured events, the path through the nodes, stops for the caller."""

    def __init__(
        self, transport: WsgiTransport, base_url: str, caller_number: str, called_number: str,
        clock: VirtualClock, caller: Caller, site: Site, read_log: LogReader,
    ) -> None:  # fmt: skip
        super().__init__(transport, base_url, caller_number, called_number, clock, caller)
        self.site = site
        self.read_log = read_log
        self.trial_events: list[dict[str, Any]] = []
        self.path: list[dict[str, str]] = []
        self.waiting: str | None = None
        self.seen = 0  # the last call log entry read
        self.pending: deque[int | dict[str, Any]] = deque()  # logged facts not shown yet, and prompt sizes

    def play(self) -> None:
        """Run the call until it ends or waits for the caller; say what was left unused."""
        try:
            self.run()
        except _Paused:
            return
        left = len(self.caller.inputs)
        if left:
            answers = "1 answer was" if left == 1 else f"{left} answers were"
            self.event("system", "note", f"{answers} not used: the call ended first")

    def event(self, who: str, kind: str, what: str, **data: Any) -> None:
        """Add a line of the try's transcript, after the logged facts that came before it."""
        self.flush(until_prompt=True)
        self.write(who, kind, what, **data)

    def write(self, who: str, kind: str, what: str, **data: Any) -> None:
        """Add a line of the try's transcript now."""
        self.trial_events.append(
            {"who": who, "kind": kind, "what": what, **data, "seconds": round(self.elapsed(), 1)}
        )

    def note(self, who: str, what: str, **data: Any) -> None:
        """The simulator's own lines, kept with a kind (the carrier's are the system's)."""
        super().note(who, what, **data)
        if what in QUIET:
            return
        kind = next((k for (w, start), k in KINDS.items() if w == who and what.startswith(start)), "note")
        extra = {key: data[key] for key in ("digits", "speech") if key in data}
        self.event("system" if who == "twilio" else who, kind, what.removeprefix("says: "), **extra)

    def post(self, url: str, extra: dict[str, str], status: str = "in-progress") -> Any:
        """Request a document, then read what the app logged for it: nodes entered, prompts, routing, errors.

        The logged facts are shown in their place among the prompts the document then plays: each prompt
        entry of the log stands for that many Say, Play or Pause verbs.
        """
        reply = super().post(url, extra, status)
        for row_id, kind, node, data in self.read_log(self.sid, self.seen):
            self.seen = row_id
            if kind == "node" and node is not None:
                self.path.append({"flow": str(data.get("flow", "")), "node": node})
            elif kind == "prompt":
                self.pending.append(len(data.get("items", [])))
            elif kind in LOGGED:
                self.pending.append({"who": "system", "kind": kind, "what": LOGGED[kind](data), "node": node})
        return reply

    def flush(self, until_prompt: bool = False) -> None:
        """Show the logged facts due now: those before the next prompt, or all of them."""
        while self.pending and not (
            until_prompt and isinstance(self.pending[0], int) and self.pending[0] > 0
        ):
            item = self.pending.popleft()
            if isinstance(item, dict):
                self.write(**item)

    def execute(self, verbs: list[Verb], url: str) -> Next:
        """Play one document, then show what remains of its logged facts."""
        try:
            return super().execute(verbs, url)
        finally:
            self.flush()

    def prompt(self, verb: Verb, budget: float = float("inf")) -> float:
        """Play a Say, Play or Pause as the caller hears it (the language with it, for speech synthesis)."""
        loops = max(1, int(verb.number("loop", 1)))
        self.flush(until_prompt=True)
        head = self.pending[0] if self.pending else None
        if isinstance(head, int):  # this verb is one item of the prompt entry at the head
            self.pending[0] = head - 1
        if verb.name == "Say":
            self.write(
                "ivr", "say", verb.text, language=verb.attrs.get("language"), voice=verb.attrs.get("voice")
            )
        elif verb.name == "Play":
            self.write("ivr", "play", f"plays {verb.text}", url=verb.text)
        else:
            self.write("ivr", "pause", f"pauses {verb.number('length', 1):g} s")
        seconds = {"Say": speaking_time(verb.text), "Play": PLAY_SECONDS}.get(
            verb.name, verb.number("length", 1)
        )
        spent = min(seconds * loops, budget)
        self.clock.advance(spent)
        return spent

    def verb_gather(self, verb: Verb, url: str) -> Next | bool:
        """Stop here when the caller has no answer left: the caller must act next."""
        if not self.caller.inputs:
            for child in verb.children:
                self.prompt(child)
            modes = verb.attrs.get("input", "dtmf").split()
            self.waiting = " ".join(
                name for mode, name in (("dtmf", "digits"), ("speech", "speech")) if mode in modes
            )
            self.event("system", "gather", f"waits for the caller: {self.waiting.replace(' ', ' or ')}")
            raise _Paused
        return super().verb_gather(verb, url)

    def verb_enqueue(self, verb: Verb, url: str) -> Next | bool:
        """The caller reaches a desk: what they hear first while waiting, then the end (no agents here)."""
        queue = verb.text
        desk = next((d for d in self.site.desks.values() if d.queue == queue), None)
        name = f"desk {desk.name} ({desk.label})" if desk else f"queue {queue}"
        said = f"the caller reaches {name}: no agents take calls in a try"
        self.event("system", "queue", said, queue=queue, desk=desk.name if desk else None)
        wait_url = verb.url("waitUrl", url)
        if wait_url is not None:  # the wait document as Twilio asks for it first: position 1, no wait yet
            params = {"QueueTime": "0", "QueuePosition": "1", "AvgQueueTime": "0", "CurrentQueueSize": "1"}
            for verb_heard in read(self.post(wait_url, params), WAIT_VERBS):
                for item in verb_heard.children if verb_heard.name == "Gather" else (verb_heard,):
                    if item.name in ("Say", "Play", "Pause"):
                        self.prompt(item)
        return True

    def verb_dial(self, verb: Verb, url: str) -> Next | bool:
        """A dial to a number or SIP address: named, then the try ends (nobody is called)."""
        targets = ", ".join(child.text for child in verb.children) or verb.text
        self.event("system", "dial", f"dials {targets}: nobody is called in a try", to=targets)
        return True
