"""A step in progress: the call's context and state, and the actions, log, updates and effects it produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .actions import Action, Callback, Event, LogEntry, Prompt
from .effects import CallUpdates, Effect
from .prompts import render
from .routing import QueueFigures
from .site import Flow, Node, Site


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


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step: the new state, what to tell Twilio, what to log, row updates and effects."""

    state: CallState
    actions: list[Action]
    log: list[LogEntry]
    updates: CallUpdates = CallUpdates()
    effects: tuple[Effect, ...] = ()


class Runtime:
    """One step in progress: the site, the call's state and what the step has produced so far."""

    def __init__(self, site: Site, state: CallState, ctx: CallContext) -> None:
        self.site = site
        self.state = state
        self.ctx = ctx
        self.actions: list[Action] = []
        self.log: list[LogEntry] = []
        self.updates = CallUpdates()
        self.effects: list[Effect] = []

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

    def update(self, changes: CallUpdates) -> None:
        """Set columns of the call's row; a field set earlier in the step is replaced."""
        self.updates = self.updates.then(changes)

    def ask(self, effect: Effect) -> None:
        """Ask for an effect, applied by its owner in the same transaction as the step."""
        self.effects.append(effect)

    def node(self, name: str) -> Node:
        """The node called `name` in the current flow."""
        try:
            return self.flow.nodes[name]
        except KeyError:
            raise FlowError(f"flow {self.state.flow!r} has no node {name!r}") from None

    def result(self) -> StepResult:
        """What this step produced."""
        return StepResult(self.state, self.actions, self.log, self.updates, tuple(self.effects))


def _describe(item: Action) -> dict[str, object]:
    return {key: value for key, value in vars(item).items() if value is not None} | {
        "verb": type(item).__name__.lower()
    }
