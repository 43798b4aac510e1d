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
    variables: tuple[str, ...] = ()  # set before the flow starts: a campaign's contact columns

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
            variables=tuple(data.get("variables", ())),
        )


@dataclass(frozen=True)
class Overflow:
    """When a desk is too busy and where its callers go then: a desk, voicemail or callback."""

    to: str
    max_wait: int | None = None
    max_queue: int | None = None


@dataclass(frozen=True)
class CostModel:
    """What a desk costs: `amount` per handled minute, per handled call or per staffed agent-hour."""

    model: str
    amount: float
    currency: str


@dataclass(frozen=True)
class Targets:
    """What a desk aims for each day; the live wallboard colours a figure that misses its target."""

    service_level_seconds: int | None = None  # None: the reports' threshold (ivr.metrics MetricSettings)
    service_level_percent: float | None = 80.0  # answered within the threshold, % of eligible offered calls
    asa_seconds: float | None = None  # the highest average speed of answer met (None: no target)
    abandonment_percent: float | None = None  # the highest abandonment rate met, % (None: no target)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Targets:
        """Targets from a desk's (schema-valid) `targets` object; what it leaves out keeps its default."""
        found = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        floats = {name: float(value) for name, value in found.items() if name != "service_level_seconds"}
        return cls(**(found | floats))


@dataclass(frozen=True)
class Desk:
    """Where callers are answered: a Twilio queue or a dial target, with hours, overflow, cost and policy."""

    name: str
    label: str
    queue: str | None = None
    dial: str | None = None
    hours: str | None = None
    timezone: str = "UTC"
    overflow: Overflow | None = None
    failover: str | None = None
    cost: CostModel | None = None
    telephony_per_minute: float = 0.0
    show_caller_numbers: bool = False
    targets: Targets = Targets()

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any], schedules: Mapping[str, Any]) -> Desk:
        """Build a desk from its (schema-valid) entry in the site file."""
        hours = data.get("hours")
        default_zone = schedules[hours]["timezone"] if hours is not None and hours in schedules else "UTC"
        overflow = data.get("overflow")
        cost = data.get("cost")
        return cls(
            name=name,
            label=data["label"],
            queue=data.get("queue"),
            dial=data.get("dial"),
            hours=hours,
            timezone=data.get("timezone", default_zone),
            overflow=Overflow(overflow["to"], overflow.get("max_wait"), overflow.get("max_queue"))
            if overflow
            else None,
            failover=data.get("failover"),
            cost=CostModel(cost["model"], float(cost["amount"]), cost["currency"]) if cost else None,
            telephony_per_minute=float(data.get("telephony_per_minute", 0)),
            show_caller_numbers=bool(data.get("data_policy", {}).get("show_caller_numbers", False)),
            targets=Targets.from_json(data.get("targets", {})),
        )


@dataclass(frozen=True)
class AgentLine:
    """The numbers agents call to sign in and take callers, and how it speaks to them."""

    numbers: tuple[str, ...]
    language: str = "en-US"
    voice: str | None = None


@dataclass(frozen=True)
class Site:
    """Everything one published version holds."""

    flows: Mapping[str, Flow]
    desks: Mapping[str, Desk]
    schedules: Mapping[str, Mapping[str, Any]]
    fallback: Mapping[str, Any]
    name: str = ""
    agent_line: AgentLine | None = None
    timezone: str = "UTC"  # where the site's people are: the call list and call pages show times in it

    @classmethod
    def from_json(cls, site: Mapping[str, Any], flows: Mapping[str, Mapping[str, Any]]) -> Site:
        """Build a site from the site file and the flow documents (all schema-valid)."""
        schedules = site.get("schedules", {})
        desks = {name: Desk.from_json(name, d, schedules) for name, d in site["desks"].items()}
        line = site.get("agent_line")
        return cls(
            flows={name: Flow.from_json(doc) for name, doc in flows.items()},
            desks=desks,
            schedules=schedules,
            fallback=site["fallback"],
            name=site.get("name", ""),
            timezone=site.get("timezone", "UTC"),
            agent_line=AgentLine(tuple(line["numbers"]), line.get("language", "en-US"), line.get("voice"))
            if line
            else None,
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
