"""Node types: a registry from type name to the class that runs it and describes it to validation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from .actions import ANSWERED_DIAL, BRIDGED, Dial, Enqueue, Event, Gather, Hangup, Leave, Play, Record, Say
from .conditions import evaluate, variables_used
from .effects import UNCHANGED, AddToDoNotCall, CallUpdates
from .params import int_param
from .prompts import fill, placeholders, speech_language, texts
from .routing import ROUTE_STRATEGIES, RouteRequest, is_split, queue_full
from .runtime import FlowError, Runtime
from .schedules import is_holiday, is_open
from .site import Desk, Node

HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
POSITION = {
    "en": "You are caller number {n} in line.",
    "es": "Usted es la persona número {n} en la fila.",
    "fr": "Vous êtes la personne numéro {n} dans la file d'attente.",
}
CALLER_GONE = ("completed", "canceled")  # the caller's CallStatus once they have hung up
NO_SEGMENT = "(none)"  # the segment of a call routed before any menu choice, by a route without a label
FALLBACK = "fallback"  # the route_strategy of a call whose desk came from no route node
# Prefixes of the tries entries that remember which desks the call was handed to, and the desk its routing
# chose (a route node, or a desk's own rule): the entries are kept between steps, and no node name has a ':'.
TRIED = "desk:"
ROUTED = "routed:"
Edge = tuple[str, str, frozenset[str]]
Handler = Callable[[Runtime, str, Node, Mapping[str, str]], str | None]


class NodeType:
    """Base class: how a node runs, what it leads to, and what it sets and reads."""

    branches: ClassVar[tuple[str, ...]] = ("next",)
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt",)
    takes_input: ClassVar[bool] = False  # waits for the caller to press or say something
    ends: ClassVar[bool] = False

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        """(field, target, variables set on the way) for each successor the node names."""
        for key in cls.branches:
            if key in node:
                yield key, node[key], frozenset()

    @classmethod
    def reads(cls, node: Node) -> Iterator[tuple[str, str]]:
        """(field, variable) for every variable the node reads."""
        for key in cls.prompt_fields:
            for _lang, text in texts(node.get(key, []), with_audio=True):
                for name in placeholders(text):
                    yield key, name

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        """Run the node on arrival; return the next node, or None when Twilio must act."""
        raise NotImplementedError  # pragma: no cover - abstract: every node type defines enter()

    @classmethod
    def resume(
        cls, rt: Runtime, name: str, node: Node, event: Event, params: Mapping[str, str]
    ) -> str | None:
        """Continue after Twilio reported an event, through the node's on_<event> handler."""
        handler: Handler | None = getattr(cls, f"on_{event}", None)
        if handler is None:
            raise FlowError(f"node {name!r} ({node['type']}) does not take a {event!r} event")
        return handler(rt, name, node, params)


def _end(rt: Runtime, node: Node) -> str | None:
    """Go on to `next` if the node has one, else hang up."""
    if "next" in node:
        return str(node["next"])
    rt.emit(Hangup())
    return None


class SayNode(NodeType):
    """Say or play a prompt, then continue."""

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        rt.emit(*rt.prompt(name, node["prompt"]))
        return str(node["next"])


class SetNode(NodeType):
    """Set variables."""

    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        yield "next", node["next"], frozenset(node["values"])

    @classmethod
    def reads(cls, node: Node) -> Iterator[tuple[str, str]]:
        for key, value in node["values"].items():
            for name in placeholders(value):
                yield f"values.{key}", name

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        values = {key: fill(value, rt.variables) for key, value in node["values"].items()}
        rt.set_variables(values)
        rt.record("set", name, values=values)
        return str(node["next"])


class BranchNode(NodeType):
    """Take the first rule whose condition holds, else `else`."""

    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        for index, rule in enumerate(node["rules"]):
            yield f"rules[{index}].next", rule["next"], frozenset()
        yield "else", node["else"], frozenset()

    @classmethod
    def reads(cls, node: Node) -> Iterator[tuple[str, str]]:
        for index, rule in enumerate(node["rules"]):
            for name in variables_used(rule["if"]):
                yield f"rules[{index}].if", name

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        variables = rt.variables
        for index, rule in enumerate(node["rules"]):
            if evaluate(rule["if"], variables, rt.ctx.now):
                rt.record("branch", name, rule=index)
                return str(rule["next"])
        rt.record("branch", name, rule="else")
        return str(node["else"])


class HoursNode(NodeType):
    """Branch on whether a named schedule is open now."""

    branches: ClassVar[tuple[str, ...]] = ("open", "closed", "holiday")
    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        schedule = rt.site.schedules[node["schedule"]]
        if "holiday" in node and is_holiday(schedule, rt.ctx.now):
            outcome = "holiday"
        else:
            outcome = "open" if is_open(schedule, rt.ctx.now) else "closed"
        rt.record("hours", name, schedule=node["schedule"], result=outcome)
        return str(node[outcome])


class RouteNode(NodeType):
    """Choose the desk for the call; sets the variable `desk`."""

    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        yield "next", node["next"], frozenset({"desk"})

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        strategy = node.get("strategy", "fixed")
        ctx = rt.ctx
        request = RouteRequest(rt.site, name, node, ctx.call_sid, ctx.caller, ctx.now, ctx.queues)
        choice = ROUTE_STRATEGIES[strategy](request)
        rt.set_variables({"desk": choice.desk})
        mark(rt, ROUTED, choice.desk)
        rt.update(CallUpdates(desk=choice.desk))
        split = is_split(strategy, node)
        log_route(rt, name, choice.desk, strategy, choice.reason, split, node.get("segment"))
        return str(node["next"])


def log_route(
    rt: Runtime, name: str, desk: str, strategy: str, reason: str, split: bool, label: str | None
) -> None:
    """Set and log how the call reached its desk: the strategy, 'split' or 'directed', and its segment."""
    assignment = "split" if split else "directed"
    segment = label or rt.state.path or NO_SEGMENT
    rt.update(CallUpdates(route_strategy=strategy, assignment=assignment, segment=segment))
    rt.record(
        "route", name, desk=desk, strategy=strategy, reason=reason, assignment=assignment, segment=segment
    )


def mark(rt: Runtime, prefix: str, desk: str | None) -> None:
    """Forget the tries entries under `prefix`, then remember `desk` under it (if given)."""
    for key in [key for key in rt.state.tries if key.startswith(prefix)]:
        del rt.state.tries[key]
    if desk is not None:
        rt.state.tries[prefix + desk] = 1


def _normalise(text: str) -> str:
    """Lower case, accents kept, punctuation turned into spaces, spaces folded."""
    text = unicodedata.normalize("NFC", text.lower())
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


class InputNode(NodeType):
    """Shared behaviour of nodes that gather input with retries: menu, gather, survey."""

    takes_input = True
    branches: ClassVar[tuple[str, ...]] = ("next", "timeout", "invalid")
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "retry_prompt")
    default_retries: ClassVar[int] = 2

    @classmethod
    def gather(cls, rt: Runtime, name: str, node: Node, retry: bool) -> None:
        """Emit the Gather that asks for this node's input."""
        prompts = rt.prompt(name, node["retry_prompt"]) if retry and "retry_prompt" in node else []
        prompts += rt.prompt(name, node["prompt"])
        rt.emit(Gather(action=rt.callback(name, "input"), prompts=tuple(prompts), **cls.options(rt, node)))

    @classmethod
    def options(cls, rt: Runtime, node: Node) -> dict[str, Any]:
        """Gather attributes for this node."""
        return {"input": "dtmf", "timeout": node.get("timeout_seconds", 5)}

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        cls.gather(rt, name, node, retry=False)
        return None

    @classmethod
    def on_input(cls, rt: Runtime, name: str, node: Node, params: Mapping[str, str]) -> str | None:
        """The Gather's result: digits, speech, or nothing (a timeout)."""
        digits = params.get("Digits", "")
        speech = params.get("SpeechResult", "")
        entry: dict[str, object] = {"digits": digits} if digits else {}
        if speech:
            entry |= {"speech": speech, "confidence": params.get("Confidence")}
        rt.record("input", name, **entry)
        if not digits and not speech:
            return cls.retry(rt, name, node, "timeout")
        return cls.accept(rt, name, node, digits, speech)

    @classmethod
    def accept(cls, rt: Runtime, name: str, node: Node, digits: str, speech: str) -> str | None:
        """Act on input that was given; return the next node or retry."""
        raise NotImplementedError  # pragma: no cover - abstract: menu, gather and survey define accept()

    @classmethod
    def retry(cls, rt: Runtime, name: str, node: Node, outcome: str) -> str | None:
        """Ask again while retries remain, else take the `outcome` branch."""
        tries = rt.state.tries.get(name, 0) + 1
        if tries <= node.get("retries", cls.default_retries):
            rt.state.tries[name] = tries
            rt.record("retry", name, reason=outcome, attempt=tries)
            cls.gather(rt, name, node, retry=True)
            return None
        rt.record("no_input" if outcome == "timeout" else "invalid_input", name, attempts=tries)
        return cls.give_up(rt, name, node, outcome)

    @classmethod
    def give_up(cls, rt: Runtime, name: str, node: Node, outcome: str) -> str | None:
        """Where to go once retries are used up."""
        return str(node[outcome])


def _option(value: Any) -> Mapping[str, Any]:
    return {"next": value} if isinstance(value, str) else value


class MenuNode(InputNode):
    """Offer options chosen by key press or speech."""

    branches: ClassVar[tuple[str, ...]] = ("timeout", "invalid")

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        for key, value in node["options"].items():
            option = _option(value)
            yield f"options.{key}", option["next"], frozenset(option.get("set", {}))
        yield from super().edges(node)

    @classmethod
    def reads(cls, node: Node) -> Iterator[tuple[str, str]]:
        yield from super().reads(node)
        for key, value in node["options"].items():
            for var, text in _option(value).get("set", {}).items():
                for name in placeholders(text):
                    yield f"options.{key}.set.{var}", name

    @classmethod
    def options(cls, rt: Runtime, node: Node) -> dict[str, Any]:
        hints = tuple(p for v in node["options"].values() for p in _option(v).get("speech", ()))
        mode = node.get("input", "dtmf speech" if hints else "dtmf")
        out: dict[str, Any] = {"input": mode, "timeout": node.get("timeout_seconds", 5), "num_digits": 1}
        if "#" in node["options"]:  # Twilio's default finishOnKey '#' would swallow the key press
            out["finish_on_key"] = ""
        if "speech" in mode:
            out |= {"hints": hints, "language": speech_language(rt.flow, rt.variables)}
        return out

    @classmethod
    def accept(cls, rt: Runtime, name: str, node: Node, digits: str, speech: str) -> str | None:
        choice = digits if digits in node["options"] else cls.match_speech(node, speech) if speech else None
        if choice is None:
            return cls.retry(rt, name, node, "invalid")
        option = _option(node["options"][choice])
        values = {key: fill(text, rt.variables) for key, text in option.get("set", {}).items()}
        rt.set_variables(values)
        step = f"{name}:{choice}"
        rt.state.path = f"{rt.state.path} > {step}" if rt.state.path else step
        rt.update(CallUpdates(path=rt.state.path))
        rt.record("menu_choice", name, option=choice, by="dtmf" if choice == digits else "speech")
        return str(option["next"])

    @staticmethod
    def match_speech(node: Node, speech: str) -> str | None:
        """The option whose key or one of whose phrases the caller said."""
        heard = f" {_normalise(speech)} "
        for key, value in node["options"].items():
            phrases = [key, *_option(value).get("speech", ())]
            if any(f" {_normalise(p)} " in heard for p in phrases):
                return str(key)
        return None


class GatherNode(InputNode):
    """Collect digits into a variable, checked against a pattern."""

    @classmethod
    def edges(cls, node: Node) -> Iterator[Edge]:
        for key, target, sets in super().edges(node):
            yield key, target, sets | ({node["variable"]} if key == "next" else set())

    @classmethod
    def options(cls, rt: Runtime, node: Node) -> dict[str, Any]:
        out = super().options(rt, node)
        out["finish_on_key"] = node.get("finish_on_key", "#")
        if "num_digits" in node:
            out["num_digits"] = node["num_digits"]
        return out

    @classmethod
    def accept(cls, rt: Runtime, name: str, node: Node, digits: str, speech: str) -> str | None:
        if not digits or ("pattern" in node and re.fullmatch(node["pattern"], digits) is None):
            return cls.retry(rt, name, node, "invalid")
        rt.set_variables({node["variable"]: digits})
        rt.record("gathered", name, variable=node["variable"])
        return str(node["next"])


class SurveyNode(InputNode):
    """Ask for a rating from 1 to `scale` after the agent hangs up."""

    ends = True
    branches: ClassVar[tuple[str, ...]] = ("next",)
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "retry_prompt", "thanks")
    default_retries = 1

    @classmethod
    def options(cls, rt: Runtime, node: Node) -> dict[str, Any]:
        return super().options(rt, node) | {"num_digits": 1}

    @classmethod
    def accept(cls, rt: Runtime, name: str, node: Node, digits: str, speech: str) -> str | None:
        if not digits.isdigit() or not 1 <= int(digits) <= node.get("scale", 5):
            return cls.retry(rt, name, node, "invalid")
        score = int(digits)
        rt.update(CallUpdates(survey_score=score))
        rt.set_variables({"survey_score": digits})
        rt.record("survey", name, score=score, scale=node.get("scale", 5))
        if "thanks" in node:
            rt.emit(*rt.prompt(name, node["thanks"]))
        return _end(rt, node)

    @classmethod
    def give_up(cls, rt: Runtime, name: str, node: Node, outcome: str) -> str | None:
        rt.record("survey", name, score=None, reason=outcome)
        return _end(rt, node)


OVERFLOW_VOICEMAIL = {
    "en": "All of our agents are still busy. "
    "Please leave your name, number and a short message after the tone.",
    "es": "Todos nuestros agentes siguen ocupados. "
    "Deje su nombre, número y un breve mensaje después del tono.",
    "fr": "Tous nos conseillers sont encore occupés. "
    "Laissez votre nom, votre numéro et un court message après le bip.",
}
OVERFLOW_CALLBACK = {
    "en": "All of our agents are busy. We will call you back at {caller:digits} as soon as we can. Goodbye.",
    "es": "Todos nuestros agentes están ocupados. "
    "Le devolveremos la llamada al {caller:digits} lo antes posible. Adiós.",
    "fr": "Tous nos conseillers sont occupés. "
    "Nous vous rappellerons au {caller:digits} dès que possible. Au revoir.",
}


class EnqueueNode(NodeType):
    """Hand the caller to a desk: Enqueue on its Twilio queue, or Dial its target.

    The desk's overflow rule (max_queue on arrival, max_wait while waiting) and failover (a full or failing
    queue, a failed dial) may send the caller on to another desk, to voicemail or to a callback request;
    a call is handed to each desk at most once.
    """

    ends = True
    branches: ClassVar[tuple[str, ...]] = ("next", "timeout", "failed")
    prompt_fields: ClassVar[tuple[str, ...]] = ("hold",)

    @classmethod
    def reads(cls, node: Node) -> Iterator[tuple[str, str]]:
        yield from super().reads(node)
        if "desk" not in node:
            yield "desk", "desk"

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        desk_name = node.get("desk") or rt.variables.get("desk", "")
        desk = rt.site.desks.get(desk_name)
        if desk is None:
            rt.record("error", name, message=f"unknown desk {desk_name!r}")
            return str(node["failed"])
        if "desk" in node or ROUTED + desk.name not in rt.state.tries:
            why = "the node names its desk" if "desk" in node else "no route node chose the desk"
            log_route(rt, name, desk.name, FALLBACK, why, False, None)
        mark(rt, TRIED, None)
        return cls.hand_to(rt, name, node, desk)

    @classmethod
    def hand_to(cls, rt: Runtime, name: str, node: Node, desk: Desk) -> str | None:
        """Put the caller in the desk's queue or dial it, unless its queue is full already."""
        rt.state.tries[TRIED + desk.name] = 1
        rt.set_variables({"desk": desk.name})
        mark(rt, ROUTED, desk.name)  # the desk's rules carry on what routing chose (or the node's fallback)
        rt.update(CallUpdates(desk=desk.name))
        if desk.queue is not None:
            stats = rt.ctx.queues(desk.name) if rt.ctx.queues is not None else None
            if stats is not None and queue_full(desk, stats):
                cap = desk.overflow.max_queue if desk.overflow else None
                reason = f"{stats.waiting} waiting >= max_queue {cap}"
                return cls.send_on(rt, name, node, desk, "overflow", reason, str(node["failed"]))
            rt.emit(Enqueue(desk.queue, wait=rt.callback(name, "wait"), action=rt.callback(name, "result")))
            rt.record("queue_entered", name, desk=desk.name, queue=desk.queue)
        else:
            rt.emit(Dial((str(desk.dial),), action=rt.callback(name, "result")))
            rt.record("dial_started", name, desk=desk.name, to=[desk.dial])
        rt.update(CallUpdates(queued_at=rt.ctx.now))
        return None

    @classmethod
    def send_on(
        cls, rt: Runtime, name: str, node: Node, desk: Desk, rule: str, reason: str, otherwise: str
    ) -> str | None:
        """Follow the desk's overflow or failover rule; `otherwise` when it has none or it leads back."""
        target = (desk.overflow.to if desk.overflow else None) if rule == "overflow" else desk.failover
        if target is None:
            rt.record(rule, name, desk=desk.name, to=None, reason=f"{reason}; no {rule} rule")
            return otherwise
        if target in rt.site.desks and TRIED + target in rt.state.tries:
            rt.record(rule, name, desk=desk.name, to=None, reason=f"{reason}; {target} already had the call")
            return otherwise
        rt.record(rule, name, desk=desk.name, to=target, reason=reason)
        if target in rt.site.desks:
            # The row describes the caller's time at the desk that has them now: the first desk's result is
            # in the events, and its overflow in overflow_from.
            rt.update(CallUpdates(overflow_from=desk.name, queue_result=None, queue_time=None))
            return cls.hand_to(rt, name, node, rt.site.desks[target])
        if rt.updates.queue_result is UNCHANGED:  # sent away by the desk: counted as its overflow
            rt.update(CallUpdates(queue_result="leave"))
        if target == "voicemail":
            rt.emit(*rt.prompt(name, OVERFLOW_VOICEMAIL))
            rt.emit(Record(action=rt.callback(name, "result"), max_length=120, transcribe=True))
            return None
        rt.record("callback_requested", name, desk=desk.name, number=rt.ctx.caller)
        rt.emit(*rt.prompt(name, OVERFLOW_CALLBACK), Hangup())
        return None

    @classmethod
    def current_desk(cls, rt: Runtime, node: Node) -> Desk | None:
        """The desk that has the call now."""
        return rt.site.desks.get(rt.variables.get("desk") or node.get("desk", ""))

    @staticmethod
    def wait_limit(node: Node, desk: Desk | None) -> tuple[int, str] | None:
        """The sooner of the node's max_wait (rule 'timeout') and the desk's overflow max_wait."""
        limits = []
        if desk is not None and desk.overflow is not None and desk.overflow.max_wait is not None:
            limits.append((desk.overflow.max_wait, "overflow"))
        if "max_wait" in node:
            limits.append((node["max_wait"], "timeout"))
        return min(limits) if limits else None

    @classmethod
    def on_result(cls, rt: Runtime, name: str, node: Node, params: Mapping[str, str]) -> str | None:
        """The caller left the queue (QueueResult), the desk's dial ended, or an overflow voicemail ended."""
        desk = cls.current_desk(rt, node)
        if "DialCallStatus" in params:
            status = dial_outcome(rt, name, params)
            if status in ANSWERED_DIAL:
                rt.update(CallUpdates(queue_result="bridged"))
                return _end(rt, node)
            if params.get("CallStatus") in CALLER_GONE:  # the caller hung up while the desk rang
                rt.update(CallUpdates(queue_result="hangup"))
                rt.emit(Hangup())
                return None
            rt.update(CallUpdates(queue_result=status))
            return cls.failover(rt, name, node, desk, f"dial {status}")
        if "QueueResult" not in params and "RecordingDuration" in params:
            save_recording(rt, name, params)
            rt.emit(Hangup())
            return None
        result = params.get("QueueResult", "error")
        queue_time = int_param(params.get("QueueTime"))
        rt.update(CallUpdates(queue_result=result, queue_time=queue_time))
        rt.record("queue_left", name, result=result, queue_time=queue_time)
        if result in BRIDGED:
            return _end(rt, node)
        if result in ("hangup", "redirected"):
            rt.emit(Hangup())
            return None
        if result == "leave":
            limit = cls.wait_limit(node, desk)
            if desk is not None and limit is not None and limit[1] == "overflow":
                reason = f"waited {queue_time} s, max_wait {limit[0]} s"
                return cls.send_on(
                    rt, name, node, desk, "overflow", reason, str(node.get("timeout", node["failed"]))
                )
            return str(node.get("timeout", node["failed"]))
        return cls.failover(rt, name, node, desk, f"queue {result}")

    @classmethod
    def failover(cls, rt: Runtime, name: str, node: Node, desk: Desk | None, reason: str) -> str | None:
        """The desk could not take the call: its failover desk, else the node's `failed` branch."""
        if desk is None:
            return str(node["failed"])
        return cls.send_on(rt, name, node, desk, "failover", reason, str(node["failed"]))

    @classmethod
    def on_wait(cls, rt: Runtime, name: str, node: Node, params: Mapping[str, str]) -> None:
        """Answer the queue's wait URL: leave after the wait limit, else position and hold prompts."""
        position = int_param(params.get("QueuePosition"))
        waited = int_param(params.get("QueueTime")) or 0
        rt.record("queue_wait", name, position=position, queue_time=waited)
        limit = cls.wait_limit(node, cls.current_desk(rt, node))
        if limit is not None and waited >= limit[0]:
            rt.record("queue_timeout", name, queue_time=waited, max_wait=limit[0], rule=limit[1])
            rt.emit(Leave())
            return None
        if node.get("announce_position", False) and position:
            # Every translation, so the caller's language, else the flow's default, else English is spoken.
            rt.emit(*rt.prompt(name, {lang: phrase.format(n=position) for lang, phrase in POSITION.items()}))
        rt.emit(*(rt.prompt(name, node["hold"]) if "hold" in node else [Play(HOLD_MUSIC)]))
        return None


def dial_outcome(rt: Runtime, name: str, params: Mapping[str, str]) -> str:
    """Log a Dial result (the talk time when answered) and return its DialCallStatus."""
    status = params.get("DialCallStatus", "failed")
    duration = int_param(params.get("DialCallDuration"))
    rt.record("dial_result", name, status=status, duration=duration, dial_call_sid=params.get("DialCallSid"))
    if status in ANSWERED_DIAL:
        rt.update(CallUpdates(talk_time=duration))
    return status


def save_recording(rt: Runtime, name: str, params: Mapping[str, str]) -> None:
    """Log a Record result and keep its URL and duration on the call."""
    url = params.get("RecordingUrl")
    duration = int_param(params.get("RecordingDuration")) or 0
    rt.record("recording", name, url=url, duration=duration, recording_sid=params.get("RecordingSid"))
    if url:
        rt.update(CallUpdates(recording_url=url, recording_duration=duration))


class DialNode(NodeType):
    """Dial numbers or SIP addresses and branch on the outcome."""

    ends = True
    branches: ClassVar[tuple[str, ...]] = ("next", "busy", "no_answer", "failed")
    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        targets = tuple(node["to"]) if isinstance(node["to"], list) else (node["to"],)
        rt.emit(
            Dial(
                targets,
                action=rt.callback(name, "result"),
                timeout=node.get("timeout_seconds", 20),
                caller_id=node.get("caller_id"),
            )
        )
        rt.record("dial_started", name, to=list(targets))
        return None

    @classmethod
    def on_result(cls, rt: Runtime, name: str, node: Node, params: Mapping[str, str]) -> str | None:
        """The Dial's outcome: `next` when answered, else its busy, no_answer or failed branch."""
        status = dial_outcome(rt, name, params)
        if status in ANSWERED_DIAL:
            return _end(rt, node)
        branch = {"busy": "busy", "no-answer": "no_answer"}.get(status, "failed")
        return str(node.get(branch, node["failed"]))


class VoicemailNode(NodeType):
    """Record a message, optionally transcribed."""

    ends = True

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        rt.emit(*rt.prompt(name, node["prompt"]))
        rt.emit(
            Record(
                action=rt.callback(name, "result"),
                max_length=node.get("max_length", 120),
                transcribe=node.get("transcribe", False),
                finish_on_key=node.get("finish_on_key", "#"),
            )
        )
        return None

    @classmethod
    def on_result(cls, rt: Runtime, name: str, node: Node, params: Mapping[str, str]) -> str | None:
        """The Record's outcome: a recording URL and duration, or none."""
        save_recording(rt, name, params)
        return _end(rt, node)


class GotoNode(NodeType):
    """Continue in another flow at its start node."""

    ends = True
    branches: ClassVar[tuple[str, ...]] = ()
    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        rt.record("goto", name, flow=node["flow"])
        rt.state.flow = node["flow"]
        return rt.flow.start


class HangupNode(NodeType):
    """Say an optional goodbye and hang up."""

    ends = True
    branches: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        if "prompt" in node:
            rt.emit(*rt.prompt(name, node["prompt"]))
        rt.emit(Hangup())
        rt.record("hangup", name)
        return None


class OptOutNode(NodeType):
    """Put the other party's number on the do-not-call list, confirm it, then go on or hang up.

    The engine stays pure: the step asks for the AddToDoNotCall effect, and the list entry (source opt-out)
    is written in the step's own write (ivr.voice.effects).
    """

    ends = True

    @classmethod
    def enter(cls, rt: Runtime, name: str, node: Node) -> str | None:
        rt.ask(AddToDoNotCall())
        rt.record("opt_out", name)
        rt.emit(*rt.prompt(name, node["prompt"]))
        return _end(rt, node)


NODE_TYPES: dict[str, type[NodeType]] = {
    "say": SayNode,
    "menu": MenuNode,
    "gather": GatherNode,
    "branch": BranchNode,
    "set": SetNode,
    "hours": HoursNode,
    "route": RouteNode,
    "enqueue": EnqueueNode,
    "dial": DialNode,
    "voicemail": VoicemailNode,
    "survey": SurveyNode,
    "goto": GotoNode,
    "hangup": HangupNode,
    "opt_out": OptOutNode,
}

__all__ = ["NODE_TYPES", "ROUTE_STRATEGIES", "NodeType", "Say"]
