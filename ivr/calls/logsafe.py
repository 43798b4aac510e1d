"""What Python log lines may carry: call SIDs, never numbers, typed digits or what a caller said
(LOG_CALLER_NUMBERS=1 shows them for debugging; docs/operations.md, "Logs")."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Mapping

# Phone numbers and typed digits: a run of 4 or more digits (with an optional +) that is not part of a word,
# so SIDs ("CA" + hex), line numbers and dates stay readable.
_DIGITS = re.compile(r"(?<![\w.:/-])\+?\d{4,}(?![\w.:/-])")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.S)


# Request parameters whose values are Twilio's identifiers and states, never what a caller typed or said.
SAFE_PARAMETERS = frozenset({
    "CallSid", "AccountSid", "ApiVersion", "Direction", "CallStatus", "ParentCallSid", "QueueSid",
    "DequeingCallSid", "DialCallSid", "DialCallStatus", "QueueResult", "RecordingSid", "TranscriptionSid",
    "TranscriptionStatus", "SequenceNumber", "CallbackSource", "Timestamp",
})  # fmt: skip


def hidden_values(params: Mapping[str, str]) -> list[str]:
    """The values of a request's parameters that a log line must not show (all but SAFE_PARAMETERS)."""
    return [value for key, value in params.items() if key not in SAFE_PARAMETERS and len(value) >= 2]


def redacted(text: str, keep: bool = False, hide: Iterable[str] = ()) -> str:
    """`text` without the `hide` values, digit runs or SQL parameters (unchanged when `keep`)."""
    if keep:
        return text
    for value in sorted(set(hide), key=len, reverse=True):
        text = text.replace(value, "[hidden]")
    return _DIGITS.sub("[digits]", _SQL_PARAMETERS.sub("[parameters hidden]", text))


def describe(exc: BaseException, keep: bool = False, hide: Iterable[str] = ()) -> str:
    """An exception's type and message, redacted (SQLAlchemy's own message without its SQL)."""
    orig = getattr(exc, "orig", None)
    message = str(orig) if orig is not None else str(exc)
    return redacted(f"{type(exc).__name__}: {message}".strip(), keep, hide)


def redacted_traceback(exc: BaseException, keep: bool = False, hide: Iterable[str] = ()) -> str:
    """The traceback of `exc`, redacted, for a log line."""
    return redacted("".join(traceback.format_exception(exc)).rstrip(), keep, hide)
