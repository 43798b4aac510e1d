"""Actions: the pure-data instructions the engine emits; ivr.voice.twiml renders them as TwiML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Event = Literal["input", "wait", "result"]


@dataclass(frozen=True)
class Callback:
    """Where Twilio should report back: the flow, the node and the kind of event."""

    flow: str
    node: str
    event: Event


AgentStep = Literal["id", "pin", "key", "dialed", "whisper"]


@dataclass(frozen=True)
class LineCallback:
    """Where Twilio reports back on the agent line: one of its steps (/voice/agent/<step>)."""

    step: AgentStep


Target = Callback | LineCallback


@dataclass(frozen=True)
class Say:
    """Speak text with a voice and language."""

    text: str
    voice: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Play:
    """Play an audio file."""

    url: str


@dataclass(frozen=True)
class Pause:
    """Stay silent for a number of seconds."""

    seconds: int


Prompt = Say | Play | Pause


@dataclass(frozen=True)
class Gather:
    """Collect DTMF and/or speech while playing prompts; post to `action` (no input too if `report_empty`)."""

    action: Target
    prompts: tuple[Prompt, ...]
    input: str = "dtmf"
    timeout: int = 5
    num_digits: int | None = None
    finish_on_key: str | None = None
    hints: tuple[str, ...] = ()
    language: str | None = None
    report_empty: bool = True


# Twilio's outcomes that mean someone answered: an <Enqueue>'s QueueResult, a <Dial>'s DialCallStatus.
BRIDGED = ("bridged", "bridging-in-process", "redirected-from-bridged")
ABANDONED = "hangup"  # the QueueResult of a caller who hung up while waiting
# Twilio's AnsweredBy values that mean a machine (or fax) answered a call ivr placed
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
ANSWERED_DIAL = ("completed", "answered")


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in a Twilio queue; `wait` loops while waiting (None: Twilio's hold music)."""

    queue: str
    wait: Callback | None
    action: Callback


@dataclass(frozen=True)
class Dial:
    """Dial numbers or SIP addresses; `action` receives DialCallStatus."""

    targets: tuple[str, ...]
    action: Callback
    timeout: int = 20
    caller_id: str | None = None


@dataclass(frozen=True)
class DialQueue:
    """Take a queue's longest-waiting caller (or wait for one; * ends the bridge); `whisper` runs for them."""

    queue: str
    action: LineCallback
    whisper: LineCallback
    timeout: int


@dataclass(frozen=True)
class Record:
    """Record a voicemail; `action` receives RecordingUrl and RecordingDuration."""

    action: Callback
    max_length: int = 120
    transcribe: bool = False
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Leave:
    """Take the caller out of the queue; the Enqueue action then runs with QueueResult=leave."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Action = Say | Play | Pause | Gather | Enqueue | Dial | DialQueue | Record | Leave | Hangup


@dataclass(frozen=True)
class LogEntry:
    """One call-log event produced by a step: its kind, the node and its data."""

    kind: str
    node: str | None
    data: dict[str, object] = field(default_factory=dict)
