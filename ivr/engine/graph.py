"""A flow as a graph for the editor's drawing: nodes, labelled edges and gotos, from JSON being typed.
Tolerant: whatever is not the shape it should be yet is skipped, and nothing here raises (docs/flows.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .nodes import NODE_TYPES

LABEL_LENGTH = 48
# Successor fields of a node whose type is unknown (or not written yet): the common outcome names.
GUESSED = ("next", "open", "closed", "holiday", "timeout", "invalid", "busy", "no_answer", "failed", "else")
Edge = tuple[str, str]  # (target, label)


def flow_graph(data: object) -> dict[str, Any]:
    """{"nodes", "edges", "gotos", "dangling"} of a flow document (any JSON value: a non-flow gives none).

    An edge to a node not written yet goes to `dangling`; nodes are marked unreachable only when the start
    node exists (otherwise none is).
    """
    nodes = data.get("nodes") if isinstance(data, Mapping) else None
    if not isinstance(nodes, Mapping):
        return {"nodes": [], "edges": [], "gotos": [], "dangling": []}
    start = data.get("start") if isinstance(data, Mapping) else None
    named = {str(name): node if isinstance(node, Mapping) else {} for name, node in nodes.items()}
    successors = {name: list(_edges(node)) for name, node in named.items()}
    reached = _reached(start, successors) if isinstance(start, str) and start in named else set(named)
    edges: list[dict[str, str]] = []
    dangling: list[dict[str, str]] = []
    for name, found in successors.items():
        for target, label in found:
            (edges if target in named else dangling).append({"from": name, "to": target, "label": label})
    return {
        "nodes": [
            {
                "id": name,
                "type": _text(node.get("type")),
                "label": describe(node),
                "start": name == start,
                "unreachable": name not in reached,
            }
            for name, node in named.items()
        ],
        "edges": edges,
        "gotos": [
            {"from": name, "flow": node["flow"]}
            for name, node in named.items()
            if node.get("type") == "goto" and isinstance(node.get("flow"), str)
        ],
        "dangling": dangling,
    }


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _reached(start: str, successors: Mapping[str, list[Edge]]) -> set[str]:
    """The nodes a call can reach from `start`."""
    seen, todo = {start}, [start]
    while todo:
        for target, _label in successors.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _edges(node: Mapping[str, Any]) -> Iterator[Edge]:
    """(target, label) for each successor the node names: a key press, a rule, an outcome, or '' for next."""
    kind = node.get("type")
    if kind == "menu":
        options = node.get("options")
        for key, option in options.items() if isinstance(options, Mapping) else ():
            target = option.get("next") if isinstance(option, Mapping) else option
            if isinstance(target, str):
                yield target, str(key)
    if kind == "branch":
        rules = node.get("rules")
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, Mapping) and isinstance(rule.get("next"), str):
                yield rule["next"], condition(rule.get("if")) or f"rule {index + 1}"
    known = NODE_TYPES.get(kind) if isinstance(kind, str) else None
    fields = GUESSED if known is None else ("else",) if kind == "branch" else known.branches
    for field in fields:
        if isinstance(node.get(field), str):
            yield node[field], "" if field == "next" and fields == ("next",) else field


def condition(cond: object) -> str:
    """A branch condition in a few words: 'lang = es', 'caller starts 512', 'time', 'any of 2'."""
    if not isinstance(cond, Mapping):
        return ""
    for joined in ("all", "any"):
        if isinstance(cond.get(joined), list):
            return f"{joined} of {len(cond[joined])}"
    if "not" in cond:
        return f"not {condition(cond['not'])}".strip()
    if "time" in cond:
        return "time"
    tests = {"equals": "=", "not_equals": "≠", "starts_with": "starts", "in": "in", "matches": "~",
             "less_than": "<", "greater_than": ">", "is_set": "set"}  # fmt: skip
    for name, sign in tests.items():
        if name in cond:
            return _short(f"{_text(cond.get('var'))} {sign} {_value(cond[name])}".strip())
    return _text(cond.get("var"))


def _value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe(node: Mapping[str, Any]) -> str:
    """What the node does, in a few words: its first prompt, desk, schedule, flow or number."""
    for field in ("prompt", "hold", "thanks"):
        if field in node:
            said = _first_text(node[field])
            if said:
                return _short(said)
    for field in ("desk", "schedule", "flow", "variable", "to"):
        value = node.get(field)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if isinstance(value, str) and value:
            return _short(value)
    weights = node.get("weights")
    if isinstance(weights, Mapping) and weights:
        return _short(" / ".join(map(str, weights)))
    return ""


def _first_text(spec: object) -> str:
    """The first words a prompt says (the first language's, the first item's), or '' for none."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return next((found for item in spec if (found := _first_text(item))), "")
    if isinstance(spec, Mapping):
        if "text" in spec:
            return _first_text(spec["text"])
        if "play" in spec:
            return f"♪ {_text(spec['play']).rsplit('/', 1)[-1]}"
        return next(
            (found for key, item in spec.items() if key != "pause" and (found := _first_text(item))), ""
        )
    return ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1].rstrip() + "…"
