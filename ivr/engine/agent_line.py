"""The agent line as a pure state machine: a leg's state and an event in, actions and leg changes out.
The view checks the PIN (ivr.accounts.agents) and hands the outcome in; nothing typed is kept in clear."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from .actions import ANSWERED_DIAL, Action, AgentStep, DialQueue, Gather, Hangup, LineCallback, LogEntry, Say
from .effects import UNCHANGED, Unchanged, changed_fields
from .runtime import FlowError
from .site import AgentLine, Desk, Site

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # wrong id/PIN pairs per call before the line hangs up
ENTRY_SECONDS = 10  # how long the line waits for the agent id or PIN
KEY_SECONDS = 2  # between callers: how long the line listens for * (sign out)
# How long a Dial on an empty queue waits for a caller before the line offers the queue again. Twilio
# documents Dial's timeout as a positive integer (no maximum); 600 s is the Calls API's maximum ring time.
WAIT_SECONDS = 600
APOLOGY = "Sorry, the agent line has a problem. Please call again. Goodbye."
WRONG_PAIR = "That agent ID and PIN do not match."
# what a caller hears when a lock on their phone or on the line stops the sign-in (never an agent's lock)
LOCKED = {
    "caller": "Too many wrong PINs from this phone. Please try again later.",
    "line": "Too many wrong PINs on this line. Please try again later, or call another agent line.",
}
ASK_ID = "Please enter your agent ID, followed by the pound key."
SIGNING_IN = frozenset({"agent_id", "agent_pin"})
SIGNED_IN = frozenset({"agent_ready", "agent_talking"})
AGENT_ROLE = "agent"  # the role of an agent's own leg on the agent line (calls.role)


@dataclass(frozen=True)
class Leg:
    """What the agent line needs of a call leg's row: who it is and what it is linked to."""

    id: int
    call_sid: str
    role: str
    desk: str | None
    agent: str | None
    site_version_id: int | None
    node: str | None
    variables: dict[str, Any]
    tries: dict[str, Any]
    peer_call_sid: str | None


@dataclass(frozen=True)
class LegUpdates:
    """The columns of a leg's row a step sets; each field is named after its column."""

    role: str | Unchanged = UNCHANGED
    site_version_id: int | Unchanged = UNCHANGED
    node: str | Unchanged = UNCHANGED
    variables: Mapping[str, Any] | Unchanged = UNCHANGED
    tries: Mapping[str, Any] | Unchanged = UNCHANGED
    desk: str | Unchanged = UNCHANGED
    agent: str | None | Unchanged = UNCHANGED
    peer_call_sid: str | Unchanged = UNCHANGED
    talk_time: int | None | Unchanged = UNCHANGED
    queue_time: int | Unchanged = UNCHANGED

    def changed(self) -> dict[str, Any]:
        """The fields that are set, by column name (mappings as plain dicts)."""
        return changed_fields(self)


@dataclass(frozen=True)
class LegChange:
    """What a step does to one leg: its row's updates, then the events logged on it."""

    leg_id: int
    updates: LegUpdates = LegUpdates()
    log: tuple[LogEntry, ...] = ()


@dataclass(frozen=True)
class LineStep:
    """A step's outcome: what Twilio is told, and the leg changes to apply in order."""

    actions: tuple[Action, ...]
    changes: tuple[LegChange, ...] = ()


@dataclass(frozen=True)
class Account:
    """An agent whose id and PIN match (active or not: the line decides what to say)."""

    agent_id: str
    desk: str
    name: str | None
    active: bool
    pin_expired: bool = False


# -- events: what Twilio reported, with what the view looked up for it -----------------------------


@dataclass(frozen=True)
class Called:
    """A call to an agent line number, answered with the published version `version_id`."""

    number: str
    version_id: int


@dataclass(frozen=True)
class IdEntered:
    """The agent id keyed in, as the view's keyed hash of it, and how many characters it had."""

    keyed: str
    length: int


@dataclass(frozen=True)
class PinChecked:
    """The PIN keyed in and checked: the agent when id and PIN match, else None; `locked` names the lock
    ("caller" or "line") that stopped the try or that this failure set."""

    account: Account | None
    locked: str | None = None


@dataclass(frozen=True)
class Whispered:
    """The Queue noun's url, run for the dequeued `caller` (the event's leg is the agent's)."""

    caller: Leg
    queue_time: int | None


@dataclass(frozen=True)
class Dialed:
    """The agent's Dial on the queue ended; `dialed` is DialCallSid's leg, `linked` the whisper's link."""

    status: str
    talk_time: int | None
    dial_call_sid: str | None
    hung_up: bool
    dialed: Leg | None = None
    linked: Leg | None = None


@dataclass(frozen=True)
class KeyPressed:
    """A key pressed between callers."""

    digits: str


Event = Called | IdEntered | PinChecked | Whispered | Dialed | KeyPressed


# -- where a leg must be for each step -------------------------------------------------------------


def _signing_in(leg: Leg) -> bool:
    return (
        leg.role == AGENT_ROLE
        and leg.site_version_id is not None
        and leg.desk is None
        and leg.node in SIGNING_IN
    )


def _signed_in(leg: Leg) -> bool:
    return (
        leg.role == AGENT_ROLE
        and leg.site_version_id is not None
        and leg.desk is not None
        and leg.node in SIGNED_IN
    )


AT_STEP: dict[AgentStep, Callable[[Leg], bool]] = {
    "id": _signing_in,
    "pin": _signing_in,
    "whisper": lambda leg: leg.agent is not None,
    "dialed": _signed_in,
    "key": _signed_in,
}


def at_step(leg: Leg | None, step: AgentStep) -> TypeGuard[Leg]:
    """Whether this leg may take this agent-line step (else the request is a stray: answer a hang-up)."""
    return leg is not None and AT_STEP[step](leg)


def entered_id(leg: Leg) -> str:
    """The keyed hash of the agent id this leg keyed in, for the PIN check ("" if none)."""
    return str(leg.variables.get("entered_id_hash", ""))


# -- documents -------------------------------------------------------------------------------------


def _say(text: str, line: AgentLine | None) -> Say:
    return Say(text, voice=line.voice if line else None, language=line.language if line else None)


def goodbye(text: str, line: AgentLine | None) -> tuple[Action, ...]:
    """Say `text` and hang up."""
    return (_say(text, line), Hangup())


def apology() -> tuple[Action, ...]:
    """What the agent line answers when a step fails."""
    return goodbye(APOLOGY, None)


def _ask(line: AgentLine | None, step: AgentStep, text: str) -> tuple[Action, ...]:
    """A Gather of digits ended by #, posted even when empty."""
    prompt = (_say(text, line),)
    return (Gather(LineCallback(step), prompt, timeout=ENTRY_SECONDS, finish_on_key="#"),)


def _ready(line: AgentLine | None, desk: Desk, opening: str, between_calls: bool) -> tuple[Action, ...]:
    """Say `opening`, name the desk and queue, and take its longest-waiting caller (waiting if none).

    Between callers the opening sits in a short Gather: * signs out, silence goes on to the queue.
    """
    first: tuple[Action, ...] = ()
    if between_calls:
        prompt = (_say(f"{opening} Press star to sign out.", line),)
        first = (Gather(LineCallback("key"), prompt, timeout=KEY_SECONDS, num_digits=1, report_empty=False),)
    elif opening:
        first = (_say(opening, line),)
    assert desk.queue is not None
    take = DialQueue(desk.queue, LineCallback("dialed"), LineCallback("whisper"), timeout=WAIT_SECONDS)
    return (*first, _say(f"{desk.label}, queue {desk.queue}.", line), take)


def _desk(site: Site, leg: Leg) -> Desk:
    desk = site.desks.get(leg.desk or "")
    if desk is None or desk.queue is None:
        raise FlowError(f"agent leg {leg.call_sid}: desk {leg.desk!r} has no queue in its flows version")
    return desk


def _on(leg: Leg, updates: LegUpdates, *entries: LogEntry) -> LegChange:
    return LegChange(leg.id, updates, entries)


# -- steps -----------------------------------------------------------------------------------------


def _called(site: Site, leg: Leg, event: Called) -> LineStep:
    """Log the call as an agent leg (a retried request keeps its failed attempts) and ask for the id."""
    updates = LegUpdates(
        role=AGENT_ROLE, site_version_id=event.version_id, node="agent_id", variables={}, tries=leg.tries
    )
    change = _on(leg, updates, LogEntry("agent_line_called", "agent_id", {"number": event.number}))
    return LineStep(_ask(site.agent_line, "id", f"Agent line. {ASK_ID}"), (change,))


def _id_entered(site: Site, leg: Leg, event: IdEntered) -> LineStep:
    """Keep the id's keyed hash and ask for the PIN (whatever the id, so nothing is revealed)."""
    updates = LegUpdates(node="agent_pin", variables={"entered_id_hash": event.keyed})
    change = _on(leg, updates, LogEntry("agent_id_entered", "agent_id", {"digits": event.length}))
    text = "Please enter your PIN, followed by the pound key."
    return LineStep(_ask(site.agent_line, "pin", text), (change,))


def _refusal(site: Site, account: Account) -> tuple[str, str] | None:
    """Why a matching agent may not take calls here (reason, what they hear), else None."""
    desk = site.desks.get(account.desk)
    if not account.active:
        return "inactive", "This agent account is not active. Please contact your supervisor."
    if account.pin_expired:
        return "pin_expired", "Your PIN has expired. Please ask your supervisor for a new one."
    if desk is None:
        return "unknown_desk", "Your desk is not set up on this line. Please contact your supervisor."
    if desk.queue is None:
        return "no_queue", f"{desk.label} takes its calls by phone, not from a queue."
    return None


def _pin_checked(site: Site, leg: Leg, event: PinChecked) -> LineStep:
    """Sign the agent in, or say the pair is wrong (at most MAX_ATTEMPTS times), or refuse the agent;
    a lock on the caller's phone or on the line ends the call at once."""
    line, account = site.agent_line, event.account
    if account is None:
        attempts = int(leg.tries.get("sign_in", 0)) + 1
        data: dict[str, object] = {"attempt": attempts}
        failed = LogEntry("agent_sign_in_failed", "agent_pin", data)
        if attempts >= MAX_ATTEMPTS or event.locked is not None:
            updates = LegUpdates(node="agent_locked_out", variables={}, tries={"sign_in": attempts})
            why: dict[str, object] = {"attempts": attempts}
            if event.locked:
                why["by"] = event.locked
            locked = LogEntry("agent_locked_out", "agent_pin", why)
            heard = LOCKED[event.locked] if event.locked else f"{WRONG_PAIR} Too many attempts."
            return LineStep(goodbye(f"{heard} Goodbye.", line), (_on(leg, updates, failed, locked),))
        updates = LegUpdates(node="agent_id", variables={}, tries={"sign_in": attempts})
        return LineStep(_ask(line, "id", f"{WRONG_PAIR} {ASK_ID}"), (_on(leg, updates, failed),))
    refusal = _refusal(site, account)
    if refusal is not None:
        reason, message = refusal
        data = {"agent": account.agent_id, "desk": account.desk, "reason": reason}
        updates = LegUpdates(agent=account.agent_id, node="agent_refused", variables={})
        change = _on(leg, updates, LogEntry("agent_refused", "agent_pin", data))
        return LineStep(goodbye(f"{message} Goodbye.", line), (change,))
    desk = site.desks[account.desk]
    data = {"agent": account.agent_id, "desk": desk.name, "queue": desk.queue}
    updates = LegUpdates(desk=desk.name, agent=account.agent_id, node="agent_ready", variables={}, tries={})
    change = _on(leg, updates, LogEntry("agent_signed_in", "agent_ready", data))
    welcome = f"Welcome{', ' + account.name if account.name else ''}. You are signed in."
    return LineStep(
        _ready(line, desk, f"{welcome} Press star to end a call.", between_calls=False), (change,)
    )


def _whispered(_site: Site, agent: Leg, event: Whispered) -> LineStep:
    """Link the dequeued caller's leg and the agent's; the caller hears nothing and is connected."""
    caller, queue_time = event.caller, event.queue_time
    bridged: dict[str, object] = {
        "agent": agent.agent,
        "agent_call_sid": agent.call_sid,
        "queue_time": queue_time,
    }
    if caller.desk != agent.desk:  # the caller keeps their desk; the agent's is noted
        who = (caller.call_sid, caller.desk, agent.agent, agent.desk)
        log.warning("caller %s of desk %s taken by agent %s of desk %s", *who)
        bridged["agent_desk"] = agent.desk
    to_caller = _on(
        caller,
        # the wait is over when an agent takes the caller: known now, not only when the talk ends
        LegUpdates(
            agent=agent.agent,
            peer_call_sid=agent.call_sid,
            queue_time=UNCHANGED if queue_time is None else queue_time,
        ),
        LogEntry("agent_bridged", caller.node, bridged),
    )
    to_agent = _on(
        agent,
        LegUpdates(peer_call_sid=caller.call_sid, node="agent_talking"),
        LogEntry(
            "agent_bridged", "agent_talking", {"caller_call_sid": caller.call_sid, "queue_time": queue_time}
        ),
    )
    return LineStep((), (to_caller, to_agent))


def _bridged_caller(leg: Leg, event: Dialed) -> Leg | None:
    """The caller this agent just talked to: the DialCallSid's leg, else the whisper's link."""
    if event.dialed is not None and event.dialed.role == "caller":
        return event.dialed
    if event.linked is not None and event.linked.peer_call_sid == leg.call_sid:
        return event.linked
    return None


def _dialed(site: Site, leg: Leg, event: Dialed) -> LineStep:
    """Store the talk time on the caller, then offer the next caller (or part from an agent who hung up)."""
    desk = _desk(site, leg)
    changes: list[LegChange] = []
    entries: list[LogEntry] = []
    status, talk = event.status, event.talk_time
    if status in ANSWERED_DIAL:
        caller = _bridged_caller(leg, event)
        if caller is None:
            data: dict[str, object] = {
                "status": status,
                "talk_time": talk,
                "dial_call_sid": event.dial_call_sid,
            }
            entries.append(LogEntry("agent_call_unmatched", "agent_ready", data))
        else:
            ended: dict[str, object] = {"agent": leg.agent, "talk_time": talk, "agent_call_sid": leg.call_sid}
            updates = LegUpdates(talk_time=talk, agent=leg.agent, peer_call_sid=leg.call_sid)
            changes.append(_on(caller, updates, LogEntry("agent_call_ended", caller.node, ended)))
            data = {"caller_call_sid": caller.call_sid, "status": status, "talk_time": talk}
            entries.append(LogEntry("agent_call_ended", "agent_ready", data))
        opening = "Call ended."
    else:
        entries.append(LogEntry("agent_queue_empty", "agent_ready", {"status": status, "queue": desk.queue}))
        opening = "Nobody is waiting."
    if event.hung_up:  # the agent hung up: signed out (Twilio ignores this answer)
        entries.append(LogEntry("agent_signed_out", "agent_signed_out", {"how": "hung up"}))
        changes.append(_on(leg, LegUpdates(node="agent_signed_out"), *entries))
        return LineStep(goodbye("Goodbye.", site.agent_line), tuple(changes))
    changes.append(_on(leg, LegUpdates(node="agent_ready"), *entries))
    return LineStep(_ready(site.agent_line, desk, opening, between_calls=True), tuple(changes))


def _key_pressed(site: Site, leg: Leg, event: KeyPressed) -> LineStep:
    """* signs out; anything else goes back to the queue."""
    desk = _desk(site, leg)
    if "*" in event.digits:
        signed_out = LogEntry("agent_signed_out", "agent_signed_out", {"how": "star"})
        change = _on(leg, LegUpdates(node="agent_signed_out"), signed_out)
        return LineStep(goodbye("You are signed out. Goodbye.", site.agent_line), (change,))
    change = _on(leg, LegUpdates(), LogEntry("agent_key", "agent_ready", {"digits": len(event.digits)}))
    return LineStep(_ready(site.agent_line, desk, "", between_calls=False), (change,))


STEPS: dict[type[Any], tuple[AgentStep | None, Callable[[Site, Leg, Any], LineStep]]] = {
    Called: (None, _called),
    IdEntered: ("id", _id_entered),
    PinChecked: ("pin", _pin_checked),
    Whispered: ("whisper", _whispered),
    Dialed: ("dialed", _dialed),
    KeyPressed: ("key", _key_pressed),
}


def step(site: Site, leg: Leg, event: Event) -> LineStep:
    """The agent line's answer to `event` on `leg`, which must be at that step (see `at_step`)."""
    point, handler = STEPS[type(event)]
    if point is not None and not at_step(leg, point):
        raise FlowError(f"agent leg {leg.call_sid} at {leg.node!r} cannot take the {point} step")
    return handler(site, leg, event)
