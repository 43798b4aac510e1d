"""A busy morning on the sample site's floor, driven through the webhooks as Twilio would, for the wallboard
tests of the page and the API: callers waiting, agents free and on a call, calls answered and abandoned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask

from ivr.accounts.agents import create_agent

from .conftest import OPEN
from .twilio import CallDriver, TwilioClient, one

AGENT_LINE = "+15125550199"
BPO_CALLER = "+16465550111"  # billing: the sticky split sends this number to bpo


@dataclass
class Clock:
    """The app's clock, moved by the scenario."""

    now: datetime = OPEN

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Floor:
    """What the scenario did: the call ids of each leg by name."""

    sids: dict[str, str] = field(default_factory=dict)


def _queued(
    twilio: TwilioClient, clock: Clock, at: datetime, number: str, menu: tuple[str, str]
) -> tuple[CallDriver, Any]:
    """A caller who picks `menu` and is handed to a desk at `at`; the call and its Enqueue document."""
    clock.now = at
    caller = CallDriver(twilio, caller=number)
    root = caller.start()
    for digit in menu:
        root = caller.press(root, digit)
    assert one(root, "/Response/Enqueue/text()") in ("local-desk", "bpo-desk")
    return caller, root


def _left_queue(caller: CallDriver, enqueued: Any, result: str, wait: int) -> None:
    """Twilio's answer when the caller leaves the queue: bridged to an agent, or hung up while waiting."""
    caller.post(one(enqueued, "//Enqueue/@action"), QueueResult=result, QueueTime=str(wait))


def _signed_in(twilio: TwilioClient, clock: Clock, at: datetime, agent_id: str, pin: str) -> CallDriver:
    """An agent who calls the agent line at `at` and signs in (ready for a caller)."""
    clock.now = at
    agent = CallDriver(twilio, caller="+1737555" + agent_id[-4:].rjust(4, "0"), called=AGENT_LINE)
    agent.press(agent.press(agent.start(), agent_id), pin)
    return agent


def busy_morning(app: Flask, twilio: TwilioClient, session: Any) -> Floor:
    """At OPEN (10:00 in Chicago), local has two callers waiting (75 s and 10 s), Ana on a call and Al free;
    bpo has one caller waiting and Bo free. Earlier today local answered two calls (10 s and 50 s in the
    queue) and lost two (after 40 s, and a short abandon after 2 s); yesterday's call does not count.

    Local today: offered 7 (4 finished, 2 waiting, 1 with Ana after 20 s), answered 3 (Ana's call too: its
    wait is over), abandoned 2 (1 short), so service level 2/6 (target 80 %: missed), ASA 80/3 s (target
    30 s: met), abandonment 1/6 (5 %: missed).
    """
    create_agent(session, "1001", "local", "432198", "Ana")
    create_agent(session, "1003", "local", "444412", "Al")
    create_agent(session, "2001", "bpo", "555512", "Bo")
    session.commit()
    clock = Clock()
    app.config["IVR_CLOCK"] = clock
    floor = Floor()
    earlier = [
        ("yesterday", OPEN - timedelta(days=1), "bridged", 5),
        ("in_time", OPEN - timedelta(hours=2), "bridged", 10),
        ("late", OPEN - timedelta(hours=2, minutes=-5), "bridged", 50),
        ("abandoned", OPEN - timedelta(hours=1), "hangup", 40),
        ("short", OPEN - timedelta(minutes=30), "hangup", 2),
    ]
    for n, (name, at, result, wait) in enumerate(earlier):
        caller, enqueued = _queued(twilio, clock, at, f"+1415555{n:04d}", ("1", "2"))
        clock.now = at + timedelta(seconds=wait)
        _left_queue(caller, enqueued, result, wait)
        floor.sids[name] = caller.sid
    for name, ago, number in (("first", 75, "+14155550100"), ("second", 10, "+14155550101")):
        caller, _ = _queued(twilio, clock, OPEN - timedelta(seconds=ago), number, ("1", "2"))
        floor.sids[name] = caller.sid
    bpo, _ = _queued(twilio, clock, OPEN - timedelta(seconds=5), BPO_CALLER, ("1", "1"))
    floor.sids["bpo"] = bpo.sid
    taken, _ = _queued(twilio, clock, OPEN - timedelta(seconds=40), "+14155550102", ("1", "2"))
    ana = _signed_in(twilio, clock, OPEN - timedelta(seconds=20), "1001", "432198")
    params = taken.params(QueueSid="QU" + "1" * 32, QueueTime="20", DequeingCallSid=ana.sid)
    twilio.post("/voice/agent/whisper", params)
    floor.sids |= {"taken": taken.sid, "ana": ana.sid}
    floor.sids["al"] = _signed_in(twilio, clock, OPEN - timedelta(seconds=15), "1003", "444412").sid
    floor.sids["bo"] = _signed_in(twilio, clock, OPEN - timedelta(seconds=15), "2001", "555512").sid
    clock.now = OPEN
    return floor
