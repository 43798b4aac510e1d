"""start() and step(): walk a flow from node to node until Twilio must act."""

from __future__ import annotations

from collections.abc import Mapping

from .actions import Event
from .nodes import NODE_TYPES
from .runtime import CallContext, CallState, FlowError, Runtime, StepResult
from .site import Site

MAX_HOPS = 200


def _run(rt: Runtime, target: str | None) -> StepResult:
    """Enter nodes from `target` on until one waits for Twilio or ends the call."""
    hops = 0
    while target is not None:
        hops += 1
        if hops > MAX_HOPS:
            raise FlowError(f"flow {rt.state.flow!r} passed {MAX_HOPS} nodes without waiting for input")
        node = rt.node(target)
        rt.state.node = target
        rt.state.tries.pop(target, None)
        rt.record("node", target, type=node["type"], flow=rt.state.flow)
        target = NODE_TYPES[node["type"]].enter(rt, target, node)
    return rt.result()


def start(
    site: Site, flow_name: str, ctx: CallContext, variables: Mapping[str, str] | None = None
) -> StepResult:
    """Begin a call in `flow_name` at its start node, with `variables` set (a campaign's contact's)."""
    if flow_name not in site.flows:
        raise FlowError(f"no flow named {flow_name!r}")
    rt = Runtime(site, CallState(flow=flow_name, variables=dict(variables or {})), ctx)
    rt.record("flow_started", None, flow=flow_name)
    return _run(rt, rt.flow.start)


def step(
    site: Site, state: CallState, event: Event, params: Mapping[str, str], ctx: CallContext
) -> StepResult:
    """Resume the node in `state` with an event Twilio reported (its request parameters)."""
    if state.flow not in site.flows:
        raise FlowError(f"no flow named {state.flow!r}")
    rt = Runtime(site, state, ctx)
    if state.node is None:
        raise FlowError("the call has no current node")
    node = rt.node(state.node)
    return _run(rt, NODE_TYPES[node["type"]].resume(rt, state.node, node, event, params))
