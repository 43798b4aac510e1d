"""The step runner: walks a flow from node to node until Twilio must act, collecting actions and log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .actions import Action, Callback, Event, LogEntry, Prompt
from .prompts import render
from .routing import QueueFigures
from .site import Flow, Node, Site

MAX_HOPS = 200


class FlowError(Exception):
    """A call cannot go on: an unknown node or event, or a flow that never waits for the caller."""


@dataclass(frozen=True)
class CallContext:
    """Facts about the call that the flow may read: who called whom, when, and the desks' queues now."""

    call_sid: str
    caller: str
    called: str
    now: datetime
    queues: QueueFigures | None = None  # read only by strategies and rules that need live queue figures


@dataclass
class CallState:
    """What the engine remembers between steps: where the call is, its variables, retries and menu path."""

    flow: str
    node: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    path: str = ""  # the menu choices so far, "menu:option > menu:option"


@dataclass
class StepResult:
    """The outcome of one step: the new state, what to tell Twilio, what to log, row updates."""

    state: CallState
    actions: list[Action]
    log: list[LogEntry]
    updates: dict[str, Any]


class Runtime:
    """One step in progress: the site, the call's state and what the step has produced so far."""

    def __init__(self, site: Site, state: CallState, ctx: CallContext) -> None:
        self.site = site
        self.state = state
        self.ctx = ctx
        self.actions: list[Action] = []
        self.log: list[LogEntry] = []
        self.updates: dict[str, Any] = {}

    @property
    def flow(self) -> Flow:
        """The flow the call is in now."""
        return self.site.flows[self.state.flow]

    @property
    def variables(self) -> dict[str, str]:
        """Built-in call facts overlaid with the flow's variables."""
        builtins = {
            "caller": self.ctx.caller,
            "called": self.ctx.called,
            "call_sid": self.ctx.call_sid,
            "lang": self.flow.default_language,
        }
        return {**builtins, **self.state.variables}

    def callback(self, node: str, event: Event) -> Callback:
        """A callback to `node` of the current flow."""
        return Callback(self.state.flow, node, event)

    def emit(self, *actions: Action) -> None:
        """Append actions to the response."""
        self.actions.extend(actions)

    def record(self, kind: str, node: str | None, **data: object) -> None:
        """Append an entry to the call log."""
        self.log.append(LogEntry(kind, node, data))

    def prompt(self, node: str, spec: Any) -> list[Prompt]:
        """Render a prompt in the caller's language and log what was said or played."""
        rendered = render(spec, self.flow, self.variables)
        self.record("prompt", node, items=[_describe(item) for item in rendered])
        return rendered

    def set_variables(self, values: Mapping[str, str]) -> None:
        """Set flow variables."""
        self.state.variables.update(values)

    def run(self, target: str | None) -> None:
        """Enter nodes from `target` on until one waits for Twilio or ends the call."""
        from .nodes import NODE_TYPES

        hops = 0
        while target is not None:
            hops += 1
            if hops > MAX_HOPS:
                raise FlowError(f"flow {self.state.flow!r} passed {MAX_HOPS} nodes without waiting for input")
            node = self.node(target)
            self.state.node = target
            self.state.tries.pop(target, None)
            self.record("node", target, type=node["type"], flow=self.state.flow)
            target = NODE_TYPES[node["type"]].enter(self, target, node)

    def node(self, name: str) -> Node:
        """The node called `name` in the current flow."""
        try:
            return self.flow.nodes[name]
        except KeyError:
            raise FlowError(f"flow {self.state.flow!r} has no node {name!r}") from None

    def result(self) -> StepResult:
        """What this step produced."""
        return StepResult(self.state, self.actions, self.log, self.updates)


def _describe(item: Action) -> dict[str, object]:
    return {key: value for key, value in vars(item).items() if value is not None} | {
        "verb": type(item).__name__.lower()
    }


def start(site: Site, flow_name: str, ctx: CallContext) -> StepResult:
    """Begin a call in `flow_name` at its start node."""
    if flow_name not in site.flows:
        raise FlowError(f"no flow named {flow_name!r}")
    rt = Runtime(site, CallState(flow=flow_name), ctx)
    rt.record("flow_started", None, flow=flow_name)
    rt.run(rt.flow.start)
    return rt.result()


def step(
    site: Site, state: CallState, event: Event, params: Mapping[str, str], ctx: CallContext
) -> StepResult:
    """Resume the node in `state` with an event Twilio reported (its request parameters)."""
    from .nodes import NODE_TYPES

    if state.flow not in site.flows:
        raise FlowError(f"no flow named {state.flow!r}")
    rt = Runtime(site, state, ctx)
    if state.node is None:
        raise FlowError("the call has no current node")
    node = rt.node(state.node)
    target = NODE_TYPES[node["type"]].resume(rt, state.node, node, event, params)
    rt.run(target)
    return rt.result()
