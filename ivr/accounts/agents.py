"""Agents of the desks: a hashed PIN checked at sign-in (an unknown id costs the same hash), wrong PINs
throttled per calling number, line and agent, the typed id kept only as a keyed hash (docs/desks.md)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..engine.site import Desk
from ..models import Agent
from .decoy import check_secret
from .throttle import Rule, fail, lift, locked_until, succeed

DEFAULT_HASH = "scrypt"  # werkzeug's default, as for web passwords
AGENT_ID = re.compile(r"[0-9]{2,16}")
MIN_PIN = 6
PIN = re.compile(rf"[0-9]{{{MIN_PIN},12}}")
# A phone that keeps guessing is stopped first (it locks only itself); the line next, before any one agent
# can be locked from it: so a stranger's wrong PINs lock a real agent only when spread over several lines,
# and then briefly (an admin lifts it sooner: ivr agent unlock).
BY_CALLER = Rule("agent_pin.caller", 5, timedelta(hours=1), timedelta(hours=1))
BY_LINE = Rule("agent_pin.line", 10, timedelta(hours=1), timedelta(minutes=15))
BY_AGENT = Rule("agent_pin.agent", 20, timedelta(hours=1), timedelta(minutes=15))
RULES = {"caller": BY_CALLER, "line": BY_LINE, "agent": BY_AGENT}
# what Twilio sends as From for a withheld, unknown or blocked number (and "anonymous" from SIP)
WITHHELD = frozenset({"+266696687", "+86282452253", "+7378742833", "+2562533", "anonymous", ""})


class HasAgentId(Protocol):
    """An agent as an ORM object or a row: what `keyed_among` matches on."""

    @property
    def agent_id(self) -> str: ...


Keyed = TypeVar("Keyed", bound=HasAgentId)


def check_agent_id(agent_id: str) -> None:
    """Refuse (ValueError) an id that cannot be keyed in: 2 to 16 digits."""
    if not AGENT_ID.fullmatch(agent_id):
        raise ValueError("the agent id must be 2 to 16 digits (agents key it in on the phone)")


def check_pin(pin: str) -> None:
    """Refuse (ValueError) a PIN that is not 6 to 12 digits."""
    if not PIN.fullmatch(pin):
        raise ValueError(f"the PIN must be {MIN_PIN} to 12 digits")


def check_desk(desk: str, desks: Mapping[str, Desk]) -> None:
    """Refuse (ValueError) a desk the site lacks, or one that is dialled (it has no queue to take from)."""
    if desk not in desks:
        known = ", ".join(sorted(name for name, d in desks.items() if d.queue)) or "none"
        raise ValueError(f"desk {desk!r} is not in the published site (desks with a queue: {known})")
    if desks[desk].queue is None:
        raise ValueError(f"desk {desk!r} is reached by dialling, not a queue: its agents take no calls here")


def find_agent(s: Session, agent_id: str) -> Agent | None:
    """The agent with this id."""
    return s.scalars(select(Agent).where(Agent.agent_id == agent_id)).first()


def create_agent(
    s: Session, agent_id: str, desk: str, pin: str, name: str = "", hash_method: str = DEFAULT_HASH
) -> Agent:
    """A new, active agent of `desk`; refuses a malformed or taken id and a malformed PIN."""
    check_agent_id(agent_id)
    check_pin(pin)
    if find_agent(s, agent_id) is not None:
        raise ValueError(f"agent {agent_id} already exists")
    pin_hash = generate_password_hash(pin, method=hash_method)
    agent = Agent(agent_id=agent_id, desk=desk, name=name, pin_hash=pin_hash, active=True)
    agent.short_pin, agent.pin_expired = False, False
    s.add(agent)
    return agent


def set_agent(
    s: Session, agent_id: str, desk: str, pin: str, name: str = "", hash_method: str = DEFAULT_HASH
) -> Agent:
    """Create the agent, or make an existing one active on `desk` with this PIN and name."""
    agent = find_agent(s, agent_id)
    if agent is None:
        return create_agent(s, agent_id, desk, pin, name, hash_method)
    check_pin(pin)
    agent.desk, agent.name, agent.active = desk, name, True
    new_pin(agent, pin, hash_method)
    return agent


def new_pin(agent: Agent, pin: str, hash_method: str = DEFAULT_HASH) -> None:
    """Give the agent a new PIN (checked), which ends an expiry."""
    check_pin(pin)
    agent.pin_hash = generate_password_hash(pin, method=hash_method)
    agent.short_pin, agent.pin_expired = False, False


def keyed_id(secret: str | bytes, digits: str) -> str:
    """The typed agent id as a keyed hash (HMAC-SHA256 under the app's secret): what the call keeps."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"ivr.agent-id:" + digits.encode(), hashlib.sha256).hexdigest()


class Signer(NamedTuple):
    """What a PIN check reads of an agent (ivr.voice.agent_pin: without the ORM)."""

    id: int
    agent_id: str
    desk: str
    name: str | None
    active: bool
    pin_expired: bool
    pin_hash: str


SIGNERS = select(
    Agent.id, Agent.agent_id, Agent.desk, Agent.name, Agent.active, Agent.pin_expired, Agent.pin_hash
).order_by(Agent.id)


def keyed_among(agents: Iterable[Keyed], secret: str | bytes, keyed: str) -> Keyed | None:
    """The agent whose id has this keyed hash (each id hashed in turn: agents are few)."""
    for agent in agents:
        if hmac.compare_digest(keyed_id(secret, agent.agent_id), keyed):
            return agent
    return None


def find_keyed(s: Session, secret: str | bytes, keyed: str) -> Agent | None:
    """The agent whose id has this keyed hash, as an ORM object."""
    return keyed_among(s.scalars(select(Agent).order_by(Agent.id)), secret, keyed)


@dataclass(frozen=True)
class SignIn:
    """What a PIN check found: the agent when id and PIN match, else None; and which lock ("caller" or
    "line") stopped the try or was set by it (an agent's lock is never told: it would confirm the id)."""

    agent: Agent | None
    locked: str | None = None


@dataclass(frozen=True)
class Judged:
    """A PIN try judged, before its counts are written: whether it signs in; the keys (by rule name) whose
    failures it clears when it does, else those it counts a failure against."""

    signs_in: bool
    keys: Mapping[str, str]


def judge(agent_id: str | None, agent_locked: bool, matches: bool, caller: str, line: str) -> Judged:
    """A refusal, for any reason (wrong PIN, unknown id, agent locked), counts against the caller (when
    identified), the line and the agent alike; the right PIN clears the caller's and the agent's count."""
    if agent_id is None or agent_locked or not matches:
        keys = {"line": line} | ({"caller": caller} if identified(caller) else {})
        return Judged(False, keys | ({"agent": agent_id} if agent_id is not None else {}))
    return Judged(True, {"caller": caller, "agent": agent_id})


def told(locked_now: Collection[str], line_locked: bool) -> str | None:
    """The lock a refused caller is told: the line's or else the caller's that this failure set, else the
    line's lock in force before (an agent's lock is never told)."""
    set_now = next((which for which in ("line", "caller") if which in locked_now), None)
    return set_now or ("line" if line_locked else None)


def identified(caller: str) -> bool:
    """Whether the calling number is one phone's (withheld callers all arrive as one made-up number or word,
    so a lock on theirs would lock every withheld agent out)."""
    return caller.startswith("+") and caller not in WITHHELD


def verify_agent(s: Session, agent: Agent | None, pin: str, caller: str, line: str, now: datetime) -> SignIn:
    """Check a PIN typed for `agent` (None: an unknown id) on a call from `caller` to `line`.

    A phone under lock is refused before any check. Otherwise the PIN is hashed (against a decoy for an
    unknown id) and judged (`judge`): nothing tells a guesser why a try was refused. A line under lock still
    takes a right PIN (so strangers cannot shut every agent out), but a wrong one there ends the call: each
    guess costs a call. The right PIN notes whether the PIN is short (under 6 digits, set before 0013).
    """
    if identified(caller) and locked_until(s, BY_CALLER, caller, now) is not None:
        return SignIn(None, "caller")
    line_locked = locked_until(s, BY_LINE, line, now) is not None
    matches = check_secret(agent.pin_hash if agent is not None else None, pin, DEFAULT_HASH)
    agent_locked = agent is not None and locked_until(s, BY_AGENT, agent.agent_id, now) is not None
    judged = judge(agent.agent_id if agent is not None else None, agent_locked, matches, caller, line)
    if agent is None or not judged.signs_in:
        locked = {which for which, key in judged.keys.items() if fail(s, RULES[which], key, now) is not None}
        return SignIn(None, told(locked, line_locked))
    for which, key in judged.keys.items():
        succeed(s, RULES[which], key, now)
    agent.short_pin = short(pin)
    return SignIn(agent)


def short(pin: str) -> bool:
    """Whether a right PIN is shorter than new PINs may be (set before migration 0013)."""
    return len(pin) < MIN_PIN


def unlock(s: Session, agent_id: str) -> bool:
    """Lift the agent's lock and forget its wrong PINs (an admin's act); False when there was none."""
    return lift(s, BY_AGENT.scope, agent_id)


def list_agents(s: Session, desk: str | None = None) -> list[Agent]:
    """Every agent (of `desk` if given), by desk and id."""
    query = select(Agent).order_by(Agent.desk, Agent.agent_id)
    if desk is not None:
        query = query.where(Agent.desk == desk)
    return list(s.scalars(query))


def deactivate_agent(s: Session, agent_id: str) -> Agent:
    """Stop an agent from signing in (LookupError if there is no such agent)."""
    agent = find_agent(s, agent_id)
    if agent is None:
        raise LookupError(f"no agent {agent_id}")
    agent.active = False
    return agent


def pin_state(agent: Agent) -> str:
    """How the agent's PIN stands: expired (a new one is needed), short (under 6 digits, still accepted),
    unchecked (set before migration 0013 and not used since: its length is unknown) or ok."""
    if agent.pin_expired:
        return "expired"
    if agent.short_pin is None:
        return "unchecked"
    return "short" if agent.short_pin else "ok"


def expire_pins(s: Session, agent_ids: list[str], not_known_long: bool = False) -> list[Agent]:
    """Make agents need a new PIN before they sign in again: those named (LookupError for an unknown one),
    and with `not_known_long` every agent whose PIN is not known to have 6 digits or more."""
    chosen: dict[str, Agent] = {}
    for agent_id in agent_ids:
        agent = find_agent(s, agent_id)
        if agent is None:
            raise LookupError(f"no agent {agent_id}")
        chosen[agent_id] = agent
    if not_known_long:
        not_long = or_(Agent.short_pin.is_(None), Agent.short_pin.is_(True))
        for agent in s.scalars(select(Agent).where(not_long)):
            chosen[agent.agent_id] = agent
    for agent in chosen.values():
        agent.pin_expired = True
    return sorted(chosen.values(), key=lambda a: a.agent_id)
