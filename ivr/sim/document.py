"""Reading TwiML as Twilio does: the document must parse, have <Response> at its root and use known verbs."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin
from xml.etree import ElementTree

from .transport import Reply

VERBS = frozenset({
    "Say", "Play", "Pause", "Gather", "Record", "Redirect", "Hangup", "Reject", "Enqueue", "Leave", "Dial",
})  # fmt: skip
NESTED = {
    "Gather": frozenset({"Say", "Play", "Pause"}),
    "Dial": frozenset({"Number", "Sip", "Client", "Queue", "Conference"}),
}
WAIT_VERBS = frozenset(
    {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"}
)  # all a waitUrl may use
PARSED = 256  # documents whose verbs are kept: a run's answers are a few dozen documents, repeated
_joined = lru_cache(maxsize=4096)(urljoin)  # a document's URL and its verbs' URLs recur on every call


class TwimlError(Exception):
    """TwiML or an answer Twilio would reject, with Twilio's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[TwimlError], tuple[int, str]]:
        """Pickled by code and message (a shard's results come back from another process)."""
        return TwimlError, (self.code, self.message)


@dataclass(frozen=True)
class Verb:
    """One TwiML element: its name, attributes, text and nested elements."""

    name: str
    attrs: dict[str, str]
    text: str = ""
    children: tuple[Verb, ...] = field(default_factory=tuple)

    def url(self, attr: str, base: str) -> str | None:
        """An attribute holding a URL, resolved against the document's URL."""
        value = self.attrs.get(attr)
        return _joined(base, value) if value else None

    def number(self, attr: str, default: float) -> float:
        """A numeric attribute, or its default."""
        try:
            return float(self.attrs[attr])
        except (KeyError, ValueError):
            return default

    def flag(self, attr: str) -> bool:
        """A true/false attribute."""
        return self.attrs.get(attr, "false").lower() == "true"


def _element(node: ElementTree.Element, allowed: frozenset[str]) -> Verb:
    if node.tag not in allowed:
        raise TwimlError(12200, f"<{node.tag}> is not allowed here")
    nested = NESTED.get(node.tag, frozenset())
    children = tuple(_element(child, nested) for child in node)
    return Verb(node.tag, dict(node.attrib), (node.text or "").strip(), children)


def read(reply: Reply, allowed: Set[str] = VERBS) -> list[Verb]:
    """The verbs of a webhook answer, or the TwimlError Twilio would report."""
    if reply.status >= 400:
        said = (
            reply.body.decode("utf-8", "replace").strip().splitlines()
            if reply.content_type.startswith("text/plain")
            else []
        )  # the voice blueprint's plain-text reason ("400 Bad Request: ...")
        reason = f" ({said[0][:300]})" if said else ""
        raise TwimlError(11200, f"HTTP {reply.status} from the application{reason}")
    if not reply.content_type.startswith(("text/xml", "application/xml", "text/html")):
        raise TwimlError(12300, f"invalid Content-Type {reply.content_type!r}")
    if reply.body[:1].isspace():
        raise TwimlError(12100, "whitespace before the XML declaration")
    return list(_verbs(reply.body, allowed if isinstance(allowed, frozenset) else frozenset(allowed)))


@lru_cache(maxsize=PARSED)
def _verbs(body: bytes, allowed: frozenset[str]) -> tuple[Verb, ...]:
    """A document's verbs, parsed once per document (Verbs are shared: read them, never change them)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise TwimlError(12100, f"document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(12100, f"root element is <{root.tag}>, not <Response>")
    return tuple(_element(child, allowed) for child in root)
