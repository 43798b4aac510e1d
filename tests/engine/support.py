"""Builders shared by the engine tests: a small site, flows from node maps, and a call driven step by step."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ivr.engine import CallContext, CallState, LogEntry, Site, StepResult, start, step
from ivr.engine.actions import Event, Say

CALL_SID = "CA0123456789abcdef0123456789abcdef"
CALLER = "+15125550111"
CALLED = "+15125550100"
# A Monday, 10:00 in Austin (America/Chicago, CST): the support schedule is open.
MONDAY_MORNING = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)

LANGUAGES = {
    "en": {"code": "en-US", "voice": "Polly.Joanna"},
    "es": {"code": "es-US", "voice": "Polly.Lupe"},
    "de": {"code": "de-DE", "voice": "Polly.Marlene"},
}

SITE_DOC: dict[str, Any] = {
    "name": "Test site",
    "desks": {
        "local": {"label": "Local desk", "queue": "local-desk"},
        "bpo": {"label": "BPO desk", "queue": "bpo-desk"},
        "phone": {"label": "Answering service", "dial": "+15125550199"},
    },
    "schedules": {
        "support": {
            "timezone": "America/Chicago",
            "hours": {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
            | {"sat": [["09:00", "13:00"]]},
            "holidays": ["2026-12-25"],
        },
    },
    "fallback": {"prompt": "Sorry, something went wrong.", "desk": "local"},
}


def flow_doc(nodes: Mapping[str, Any], name: str = "main", start: str | None = None, **fields: Any) -> dict:
    """A flow document: `start` defaults to the first node."""
    return {"name": name, "start": start or next(iter(nodes)), "nodes": dict(nodes)} | fields


def make_site(
    nodes: Mapping[str, Any] | None = None,
    *,
    flows: Mapping[str, Mapping[str, Any]] | None = None,
    site: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Site:
    """A site with the flow 'main' made of `nodes` (plus any other flow documents), not validated.

    The flow speaks LANGUAGES (English by default) unless `languages` says otherwise; None drops a field.
    """
    docs = {name: dict(doc) for name, doc in (flows or {}).items()}
    if nodes is not None:
        fields = {"languages": LANGUAGES, "default_language": "en"} | fields
        docs["main"] = flow_doc(nodes, **{key: value for key, value in fields.items() if value is not None})
    return Site.from_json(copy.deepcopy(dict(site or SITE_DOC)), docs)


def context(now: datetime = MONDAY_MORNING, caller: str = CALLER) -> CallContext:
    return CallContext(call_sid=CALL_SID, caller=caller, called=CALLED, now=now)


class Call:
    """One call through the engine: start() once, then step() with Twilio's parameters."""

    def __init__(self, site: Site, flow: str = "main", ctx: CallContext | None = None) -> None:
        self.site = site
        self.ctx = ctx or context()
        self.result: StepResult = start(site, flow, self.ctx)

    def step(self, event: Event, **params: str) -> StepResult:
        self.result = step(self.site, self.result.state, event, params, self.ctx)
        return self.result

    @property
    def state(self) -> CallState:
        return self.result.state

    @property
    def actions(self) -> list[Any]:
        return self.result.actions

    @property
    def log(self) -> list[LogEntry]:
        return self.result.log

    def entries(self, kind: str) -> list[LogEntry]:
        """The log entries of one kind from the last step."""
        return [entry for entry in self.result.log if entry.kind == kind]

    def entry(self, kind: str) -> LogEntry:
        """The only log entry of one kind from the last step."""
        (found,) = self.entries(kind)
        return found


def hangup(text: str) -> dict[str, Any]:
    """A hangup node that says `text`: where a test's call ends is visible in what was said."""
    return {"type": "hangup", "prompt": text}


def say_en(text: str) -> Say:
    return Say(text, voice="Polly.Joanna", language="en-US")


def say_es(text: str) -> Say:
    return Say(text, voice="Polly.Lupe", language="es-US")


def say_de(text: str) -> Say:
    return Say(text, voice="Polly.Marlene", language="de-DE")
