"""The validated site: flows, desks, schedules and fallback, as the engine reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Node = Mapping[str, Any]

BUILTIN_VARIABLES = ("caller", "called", "call_sid", "lang")
DEFAULT_LANGUAGES: dict[str, dict[str, str]] = {"en": {"code": "en-US"}}


@dataclass(frozen=True)
class Flow:
    """One flow: its name, start node, nodes, numbers and languages."""

    name: str
    start: str
    nodes: Mapping[str, Node]
    numbers: tuple[str, ...] = ()
    default: bool = False
    languages: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_LANGUAGES)
    default_language: str = "en"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Flow:
        """Build a flow from its (schema-valid) JSON document."""
        languages = data.get("languages") or DEFAULT_LANGUAGES
        return cls(
            name=data["name"],
            start=data["start"],
            nodes=data["nodes"],
            numbers=tuple(data.get("numbers", ())),
            default=bool(data.get("default", False)),
            languages=languages,
            default_language=data.get("default_language", next(iter(languages))),
        )


@dataclass(frozen=True)
class Desk:
    """Where callers are answered: a Twilio queue or a dial target."""

    name: str
    label: str
    queue: str | None = None
    dial: str | None = None


@dataclass(frozen=True)
class Site:
    """Everything one published version holds."""

    flows: Mapping[str, Flow]
    desks: Mapping[str, Desk]
    schedules: Mapping[str, Mapping[str, Any]]
    fallback: Mapping[str, Any]
    name: str = ""

    @classmethod
    def from_json(cls, site: Mapping[str, Any], flows: Mapping[str, Mapping[str, Any]]) -> Site:
        """Build a site from the site file and the flow documents (all schema-valid)."""
        desks = {
            name: Desk(name=name, label=d["label"], queue=d.get("queue"), dial=d.get("dial"))
            for name, d in site["desks"].items()
        }
        return cls(
            flows={name: Flow.from_json(doc) for name, doc in flows.items()},
            desks=desks,
            schedules=site.get("schedules", {}),
            fallback=site["fallback"],
            name=site.get("name", ""),
        )

    def flow_for_number(self, number: str) -> Flow | None:
        """The flow that answers `number`, else the default flow, else None."""
        default = None
        for flow in self.flows.values():
            if number in flow.numbers:
                return flow
            if flow.default:
                default = flow
        return default
