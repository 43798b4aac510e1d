"""What changed between two versions, at node level, in one line a supervisor can read (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.loader import Bundle
from ..engine.nodes import NODE_TYPES

MAX_NAMES = 4  # names listed per kind of change before "and N more"


@dataclass(frozen=True)
class FlowChanges:
    """The node-level changes of one flow present in both versions."""

    flow: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    rewired: tuple[str, ...] = ()  # successors point elsewhere
    reworded: tuple[str, ...] = ()  # prompts say something else
    changed: tuple[str, ...] = ()  # anything else about the node (type, desk, timeouts ...)
    flow_settings: bool = False  # the flow's own fields: start, numbers, languages ...

    def __bool__(self) -> bool:
        return bool(
            self.added or self.removed or self.rewired or self.reworded or self.changed or self.flow_settings
        )

    def line(self) -> str:
        """'main: added node 'x'; rewired 'menu''."""
        parts = [
            _names("added node", self.added),
            _names("removed node", self.removed),
            _names("rewired", self.rewired, plural=False),
            _names("reworded", self.reworded, plural=False),
            _names("changed", self.changed, plural=False),
            "changed flow settings" if self.flow_settings else "",
        ]
        return f"{self.flow}: " + "; ".join(part for part in parts if part)


@dataclass(frozen=True)
class Changes:
    """Every change from one version to the next."""

    flows_added: tuple[str, ...] = ()
    flows_removed: tuple[str, ...] = ()
    flows: tuple[FlowChanges, ...] = ()
    site_changed: bool = False
    reformatted: tuple[str, ...] = field(default=())  # documents whose text changed but not their meaning

    def __bool__(self) -> bool:
        return bool(self.flows_added or self.flows_removed or self.flows or self.site_changed)

    def line(self) -> str:
        """One line: "added flow 'x'; main: added node 'y'; reworded 'greeting'; changed site settings"."""
        parts = [
            _names("added flow", self.flows_added),
            _names("removed flow", self.flows_removed),
            *(flow.line() for flow in self.flows),
            "changed site settings" if self.site_changed else "",
        ]
        if not any(parts) and self.reformatted:
            parts.append(_names("reformatted", self.reformatted, plural=False))
        return "; ".join(part for part in parts if part) or "no change"


def changes(old: Bundle | None, new: Bundle) -> Changes:
    """The changes from `old` (None: nothing published before) to `new`."""
    if old is None:
        return Changes(flows_added=tuple(sorted(new.flows)), site_changed=True)
    common = sorted(set(old.flows) & set(new.flows))
    per_flow = (_flow_changes(name, old.flows[name], new.flows[name]) for name in common)
    reformatted = tuple(
        sorted(name for name, text in new.texts.items() if name in old.texts and old.texts[name] != text)
    )
    return Changes(
        flows_added=tuple(sorted(set(new.flows) - set(old.flows))),
        flows_removed=tuple(sorted(set(old.flows) - set(new.flows))),
        flows=tuple(found for found in per_flow if found),
        site_changed=old.site != new.site,
        reformatted=reformatted,
    )


def _flow_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> FlowChanges:
    old_nodes, new_nodes = old.get("nodes", {}), new.get("nodes", {})
    rewired, reworded, changed = [], [], []
    for node in sorted(set(old_nodes) & set(new_nodes)):
        before, after = old_nodes[node], new_nodes[node]
        if before == after:
            continue
        moved, worded = _successors(before) != _successors(after), _prompts(before) != _prompts(after)
        rewired += [node] if moved else []
        reworded += [node] if worded else []
        if _rest(before) != _rest(after) or not (moved or worded):
            changed.append(node)
    settings = {k: v for k, v in old.items() if k != "nodes"} != {
        k: v for k, v in new.items() if k != "nodes"
    }
    return FlowChanges(
        flow=name,
        added=tuple(sorted(set(new_nodes) - set(old_nodes))),
        removed=tuple(sorted(set(old_nodes) - set(new_nodes))),
        rewired=tuple(rewired),
        reworded=tuple(reworded),
        changed=tuple(changed),
        flow_settings=settings,
    )


def _kind(node: Mapping[str, Any]) -> Any:
    return NODE_TYPES.get(node.get("type", ""))


def _successors(node: Mapping[str, Any]) -> dict[str, str]:
    kind = _kind(node)
    found = {f: str(target) for f, target, _sets in kind.edges(node)} if kind is not None else {}
    if node.get("type") == "goto":
        found["flow"] = f"flow {node.get('flow')}"
    return found


def _prompt_fields(node: Mapping[str, Any]) -> tuple[str, ...]:
    kind = _kind(node)
    return tuple(kind.prompt_fields) if kind is not None else ()


def _prompts(node: Mapping[str, Any]) -> dict[str, Any]:
    return {name: node.get(name) for name in _prompt_fields(node)}


def _rest(node: Mapping[str, Any]) -> Any:
    """The node without its successors and prompts (at any depth: a menu option's `next` too)."""
    kind = _kind(node)
    branches = set(kind.branches) if kind is not None else set()
    skip = {"next", "else", *branches, *_prompt_fields(node)} | (
        {"flow"} if node.get("type") == "goto" else set()
    )
    return _without(node, skip)


def _without(value: Any, skip: set[str]) -> Any:
    """The value without the `skip` keys at any depth; an object left empty by that goes too (an option
    that only said where to go is wiring, not content)."""
    if isinstance(value, Mapping):
        kept = {key: _without(item, skip) for key, item in value.items() if key not in skip}
        return {key: item for key, item in kept.items() if item != {} or value[key] == {}}
    if isinstance(value, list):
        return [_without(item, skip) for item in value]
    return value


def _names(verb: str, names: tuple[str, ...], plural: bool = True) -> str:
    if not names:
        return ""
    shown = ", ".join(repr(name) for name in names[:MAX_NAMES])
    more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    label = f"{verb}s" if plural and len(names) > 1 else verb
    return f"{label} {shown}{more}"
