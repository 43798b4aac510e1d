"""Checks a schema cannot make: targets, reachability, endings, input-free loops, variables, names.
Regular expressions are checked by the schema ("format": "regex"), so invalid ones never reach these."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .nodes import NODE_TYPES
from .problems import WARNING, Problem, did_you_mean, known_names, unknown
from .prompts import texts
from .site import BUILTIN_VARIABLES

Key = tuple[str, str]  # (flow, node)
MAX_TRANSCRIBED = 120  # seconds: Twilio's transcription limit (warning 13617)


@dataclass(frozen=True)
class Document:
    """A parsed JSON file and the name it is reported under."""

    file: str
    data: Mapping[str, Any]


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _zone_unknown(name: str) -> str:
    hint = (
        did_you_mean(name, available_timezones(), cutoff=0.8)
        or ": use an IANA name such as 'America/Chicago' or 'UTC'"
    )
    return f"unknown time zone {name!r}{hint}"


def check_site(site: Document) -> Iterator[Problem]:
    """Time zones of the site and its schedules, the desks' references, and the fallback's desk."""
    data = site.data
    if "timezone" in data and not _zone_ok(data["timezone"]):
        yield Problem(site.file, None, "timezone", f"unknown time zone {data['timezone']!r}")
    for name, schedule in data.get("schedules", {}).items():
        if not _zone_ok(schedule["timezone"]):
            yield Problem(site.file, None, f"schedules.{name}.timezone", _zone_unknown(schedule["timezone"]))
    for name, desk in data["desks"].items():
        yield from _check_desk(site.file, name, desk, data)
    if not data["fallback"]["prompt"].strip():
        yield Problem(site.file, None, "fallback.prompt", "prompt is empty")
    desk = data["fallback"].get("desk")
    if desk is not None and desk not in data["desks"]:
        yield Problem(site.file, None, "fallback.desk", unknown("desk", desk, data["desks"], "desks"))


def _check_desk(file: str, name: str, desk: Mapping[str, Any], data: Mapping[str, Any]) -> Iterator[Problem]:
    where = f"desks.{name}"
    if "hours" in desk and desk["hours"] not in data.get("schedules", {}):
        schedules = data.get("schedules", {})
        yield Problem(
            file, None, f"{where}.hours", unknown("schedule", desk["hours"], schedules, "schedules")
        )
    if "timezone" in desk and not _zone_ok(desk["timezone"]):
        yield Problem(file, None, f"{where}.timezone", _zone_unknown(desk["timezone"]))
    targets = [("failover", desk.get("failover")), ("overflow.to", desk.get("overflow", {}).get("to"))]
    for field, target in targets:
        if target is None or (field == "overflow.to" and target in ("voicemail", "callback")):
            continue
        if target == name:
            yield Problem(file, None, f"{where}.{field}", "a desk cannot send its callers to itself")
        elif target not in data["desks"]:
            others = [other for other in data["desks"] if other != name]
            yield Problem(file, None, f"{where}.{field}", unknown("desk", target, others, "other desks"))
    if "max_queue" in desk.get("overflow", {}) and "queue" not in desk:
        yield Problem(file, None, f"{where}.overflow.max_queue", "only a queue desk has a queue to cap")
    if "max_wait" in desk.get("overflow", {}) and "queue" not in desk:
        yield Problem(file, None, f"{where}.overflow.max_wait", "only a queue desk has callers waiting")


def check_flows(
    site: Document, flows: Mapping[str, Document], unchecked: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Problem]:
    """Every semantic problem in the flows, given the site file.

    `unchecked` are flows that failed the schema (already reported): they are not analysed, but their
    names and default flag still count, so they cause no follow-on errors elsewhere.
    """
    unchecked = unchecked or {}
    problems: list[Problem] = list(check_site(site))
    problems += _check_numbers(flows, any(doc.get("default") is True for doc in unchecked.values()))
    problems += _check_agent_line(site, flows)
    graph: dict[Key, list[tuple[str, Key, frozenset[str]]]] = {}
    for doc in flows.values():
        problems += _check_flow(doc, site.data, flows, set(unchecked), graph)
    problems += _check_ends(flows, graph)
    problems += _check_loops(flows, graph)
    problems += _check_variables(flows, graph)
    return sorted(set(problems), key=Problem.sort_key)


def _check_agent_line(site: Document, flows: Mapping[str, Document]) -> Iterator[Problem]:
    line = site.data.get("agent_line", {}).get("numbers", ())
    for doc in flows.values():
        for number in doc.data.get("numbers", ()):
            if number in line:
                yield Problem(doc.file, None, "numbers", f"{number} is the agent line's number (site file)")


def _check_numbers(flows: Mapping[str, Document], unchecked_default: bool) -> Iterator[Problem]:
    owners: dict[str, str] = {}
    defaults = [doc for doc in flows.values() if doc.data.get("default")]
    for doc in flows.values():
        for number in doc.data.get("numbers", ()):
            if number in owners:
                yield Problem(
                    doc.file, None, "numbers", f"{number} is already answered by flow {owners[number]!r}"
                )
            owners[number] = doc.data["name"]
    for doc in defaults[1:]:
        yield Problem(doc.file, None, "default", f"flow {defaults[0].data['name']!r} is already the default")
    if flows and not defaults and not unchecked_default:
        first = min(flows.values(), key=lambda d: d.file)
        yield Problem(
            first.file, None, "default", 'no flow is marked "default": true; unknown numbers need one'
        )


def _check_flow(
    doc: Document,
    site: Mapping[str, Any],
    flows: Mapping[str, Document],
    unchecked: set[str],
    graph: dict[Key, list[tuple[str, Key, frozenset[str]]]],
) -> Iterator[Problem]:
    data, file, flow = doc.data, doc.file, doc.data["name"]
    nodes = data["nodes"]
    languages = data.get("languages", {"en": {}})
    default_language = data.get("default_language", next(iter(languages)))
    if default_language not in languages:
        message = f"{default_language!r} is not one of the flow's languages"
        yield Problem(file, None, "default_language", message + did_you_mean(default_language, languages))
    if data["start"] not in nodes:
        message = f"start node {data['start']!r} does not exist{did_you_mean(data['start'], nodes)}"
        yield Problem(file, None, "start", message)
    for name, node in nodes.items():
        kind = NODE_TYPES[node["type"]]
        edges = graph.setdefault((flow, name), [])
        for field, target, sets in kind.edges(node):
            if target not in nodes:
                message = f"target node {target!r} does not exist{did_you_mean(target, nodes)}"
                yield Problem(file, name, field, message)
            else:
                edges.append((field, (flow, target), sets))
        if node["type"] == "goto" and node["flow"] not in unchecked:
            if node["flow"] not in flows:
                yield Problem(file, name, "flow", unknown("flow", node["flow"], flows, "flows"))
            else:
                other = flows[node["flow"]].data
                if other["start"] in other["nodes"]:
                    edges.append(("flow", (node["flow"], other["start"]), frozenset()))
        yield from _check_prompts(file, name, node, kind.prompt_fields, languages, default_language)
        yield from _check_references(file, name, node, site)
    reachable = _reach({(flow, data["start"])}, graph) if data["start"] in nodes else set()
    for name in nodes:
        if (flow, name) not in reachable:
            message = f"node is unreachable from the start node {data['start']!r}"
            yield Problem(file, name, None, message, WARNING)  # harmless to callers: no one can get there


def _check_prompts(
    file: str,
    name: str,
    node: Mapping[str, Any],
    fields: tuple[str, ...],
    languages: Mapping[str, Any],
    default: str,
) -> Iterator[Problem]:
    for field in fields:
        if field not in node:
            continue
        parts = node[field] if isinstance(node[field], list) else [node[field]]
        for index, part in enumerate(parts):
            where = f"{field}[{index}]" if isinstance(node[field], list) else field
            localized = isinstance(part, dict) and not {"play", "pause", "text"} & set(part)
            if localized and default not in part:
                yield Problem(file, name, where, f"no text in the flow's default language {default!r}")
            for lang, text in texts(part):
                at = f"{where}.{lang}" if lang else where
                if lang and lang not in languages:
                    message = f"language {lang!r} is not declared in the flow's languages"
                    yield Problem(file, name, at, message + known_names("declared", languages))
                if not text.strip():
                    yield Problem(file, name, at, "prompt is empty")


def _conditions(cond: Mapping[str, Any], where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield where, cond
    for key in ("all", "any"):
        for index, sub in enumerate(cond.get(key, ())):
            yield from _conditions(sub, f"{where}.{key}[{index}]")
    if "not" in cond:
        yield from _conditions(cond["not"], f"{where}.not")


def _check_references(
    file: str, name: str, node: Mapping[str, Any], site: Mapping[str, Any]
) -> Iterator[Problem]:
    kind = node["type"]
    if kind == "hours" and node["schedule"] not in site.get("schedules", {}):
        schedules = site.get("schedules", {})
        yield Problem(file, name, "schedule", unknown("schedule", node["schedule"], schedules, "schedules"))
    if kind in ("route", "enqueue") and "desk" in node and node["desk"] not in site["desks"]:
        yield Problem(file, name, "desk", unknown("desk", node["desk"], site["desks"], "desks"))
    if kind == "route":
        yield from _check_route(file, name, node, site)
    if kind == "voicemail" and node.get("transcribe") and node.get("max_length", 120) > MAX_TRANSCRIBED:
        message = f"Twilio transcribes recordings of at most {MAX_TRANSCRIBED} s: lower max_length"
        yield Problem(file, name, "max_length", message)
    if kind == "enqueue" and "max_wait" in node and "timeout" not in node:
        yield Problem(
            file, name, "timeout", "max_wait is set, so name the node for callers who waited too long"
        )
    for index, rule in enumerate(node.get("rules", ()) if kind == "branch" else ()):
        for where, cond in _conditions(rule["if"], f"rules[{index}].if"):
            if "time" in cond and not _zone_ok(cond["time"]["timezone"]):
                yield Problem(file, name, f"{where}.time.timezone", _zone_unknown(cond["time"]["timezone"]))
            if "var" in cond and len(cond) == 1:
                yield Problem(
                    file, name, where, "a variable test needs a comparison (equals, matches, is_set...)"
                )


def _check_route(file: str, name: str, node: Mapping[str, Any], site: Mapping[str, Any]) -> Iterator[Problem]:
    desks = site["desks"]
    named = [(f"weights.{d}", d) for d in node.get("weights", {})]
    named += [(f"desks[{i}]", d) for i, d in enumerate(node.get("desks", ()))]
    named += [(key, node[key]) for key in ("to", "else") if key in node]
    for field, desk in named:
        if desk not in desks:
            yield Problem(file, name, field, unknown("desk", desk, desks, "desks"))
    if "weights" in node and not any(weight > 0 for weight in node["weights"].values()):
        yield Problem(file, name, "weights", "at least one desk needs a weight above 0")
    strategy = node.get("strategy", "fixed")
    if strategy == "overflow" and node["desk"] in desks:
        rule = desks[node["desk"]].get("overflow", {})
        if not any(key in node or key in rule for key in ("max_wait", "max_queue")):
            yield Problem(
                file,
                name,
                "strategy",
                "overflow needs max_wait or max_queue, on the node or the desk's overflow",
            )
    if strategy == "overflow" and node.get("to") == node["desk"]:
        yield Problem(file, name, "to", "the overflow desk is the node's own desk")
    if strategy == "schedule":
        listed = node["desks"]
        for index, desk in enumerate(listed[:-1]):
            if desk in desks and "hours" not in desks[desk]:
                message = (
                    f"desk {desk!r} has no hours: it is always open, so the desks after it are never chosen"
                )
                yield Problem(file, name, f"desks[{index}]", message)


def _reach(start: set[Key], graph: Mapping[Key, list[tuple[str, Key, frozenset[str]]]]) -> set[Key]:
    seen, todo = set(start), list(start)
    while todo:
        for _field, target, _sets in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _node(flows: Mapping[str, Document], key: Key) -> Mapping[str, Any]:
    node: Mapping[str, Any] = flows[key[0]].data["nodes"][key[1]]
    return node


def _check_ends(
    flows: Mapping[str, Document], graph: Mapping[Key, list[tuple[str, Key, frozenset[str]]]]
) -> Iterator[Problem]:
    """Every node must have some path to a node that can end the call."""
    reverse: dict[Key, list[Key]] = {}
    for source, edges in graph.items():
        for _field, target, _sets in edges:
            reverse.setdefault(target, []).append(source)
    ends = {key for key in graph if NODE_TYPES[_node(flows, key)["type"]].ends}
    can_end, todo = set(ends), list(ends)
    while todo:
        for source in reverse.get(todo.pop(), ()):
            if source not in can_end:
                can_end.add(source)
                todo.append(source)
    for key in sorted(set(graph) - can_end):
        yield Problem(flows[key[0]].file, key[1], None, "no path from this node ever ends the call")


def _check_loops(
    flows: Mapping[str, Document], graph: Mapping[Key, list[tuple[str, Key, frozenset[str]]]]
) -> Iterator[Problem]:
    """A cycle with no node taking caller input would repeat forever (re-dialling, re-queueing)."""
    passive = {key for key in graph if not NODE_TYPES[_node(flows, key)["type"]].takes_input}
    state: dict[Key, int] = {}
    reported: set[frozenset[Key]] = set()

    def visit(key: Key, path: list[Key]) -> Iterator[Problem]:
        state[key] = 1
        path.append(key)
        for _field, target, _sets in graph.get(key, ()):
            if target not in passive:
                continue
            if state.get(target) == 1:
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    names = " -> ".join(n for _f, n in [*cycle, target])
                    yield Problem(
                        flows[target[0]].file, target[1], None, f"loop with no caller input: {names}"
                    )
            elif target not in state:
                yield from visit(target, path)
        path.pop()
        state[key] = 2

    for key in sorted(passive):
        if key not in state:
            yield from visit(key, [])


def _check_variables(
    flows: Mapping[str, Document], graph: Mapping[Key, list[tuple[str, Key, frozenset[str]]]]
) -> Iterator[Problem]:
    """Forward must-analysis: a variable read at a node must be set on every path that reaches it."""
    builtins = frozenset(BUILTIN_VARIABLES)
    entries = {
        (name, doc.data["start"]) for name, doc in flows.items() if doc.data["start"] in doc.data["nodes"]
    }
    goto_targets = {t for edges in graph.values() for f, t, _s in edges if f == "flow"}
    seeds = {  # a flow's declared `variables` are set before it starts (a campaign's contact columns)
        key: builtins | frozenset(flows[key[0]].data.get("variables", ()))
        for key in entries
        if key not in goto_targets or _is_entry(flows[key[0]].data)
    }
    known: dict[Key, frozenset[str]] = dict(seeds)
    todo = list(seeds)
    while todo:
        key = todo.pop()
        for _field, target, sets in graph.get(key, ()):
            incoming = known[key] | sets
            merged = incoming if target not in known else known[target] & incoming
            if target in seeds:
                merged &= seeds[target]
            if known.get(target) != merged:
                known[target] = merged
                todo.append(target)
    for key, available in sorted(known.items()):
        node = _node(flows, key)
        for field, name in NODE_TYPES[node["type"]].reads(node):
            if name not in available:
                message = f"variable {name!r} is used before it is set on every path to this node"
                yield Problem(flows[key[0]].file, key[1], field, message)


def _is_entry(flow: Mapping[str, Any]) -> bool:
    return bool(flow.get("numbers") or flow.get("default"))
