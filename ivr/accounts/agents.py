"""Agents of the desks: created with a hashed PIN, checked when they sign in on the agent line.
An unknown id costs the same hash as a known one (docs/desks.md, "The agent line")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..engine.site import Desk
from ..models import Agent

DEFAULT_HASH = "scrypt"  # werkzeug's default, as for web passwords
AGENT_ID = re.compile(r"[0-9]{2,16}")
PIN = re.compile(r"[0-9]{4,12}")
MAX_FAILED_PINS = 10  # wrong PINs in a row, over any number of calls, before the agent is locked
LOCKOUT = timedelta(minutes=15)


@cache
def _decoy_hash() -> str:
    """A hash to check against when the agent id is unknown (same cost as a real check)."""
    return generate_password_hash("0000")


def check_agent_id(agent_id: str) -> None:
    """Refuse (ValueError) an id that cannot be keyed in: 2 to 16 digits."""
    if not AGENT_ID.fullmatch(agent_id):
        raise ValueError("the agent id must be 2 to 16 digits (agents key it in on the phone)")


def check_pin(pin: str) -> None:
    """Refuse (ValueError) a PIN that is not 4 to 12 digits."""
    if not PIN.fullmatch(pin):
        raise ValueError("the PIN must be 4 to 12 digits")


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
    agent.pin_hash = generate_password_hash(pin, method=hash_method)
    return agent


def verify_agent(s: Session, agent_id: str, pin: str, now: datetime) -> Agent | None:
    """The agent if id and PIN match (active or not: the caller decides what to say), else None.

    Wrong PINs are counted on the agent across calls: after MAX_FAILED_PINS in a row the agent is locked
    for LOCKOUT, during which even the right PIN is refused (the caller is told nothing more), so a PIN
    cannot be guessed by calling again and again.
    """
    agent = find_agent(s, agent_id) if AGENT_ID.fullmatch(agent_id) else None
    matches = check_password_hash(agent.pin_hash if agent is not None else _decoy_hash(), pin)
    if agent is None:
        return None
    if agent.locked_until is not None and agent.locked_until > now:
        return None
    if not matches:
        agent.failed_pins += 1
        if agent.failed_pins >= MAX_FAILED_PINS:
            agent.failed_pins, agent.locked_until = 0, now + LOCKOUT
        return None
    agent.failed_pins = 0
    return agent


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
