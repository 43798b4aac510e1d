"""What Python log lines may carry: call SIDs, never phone numbers, typed digits or transcriptions.

`redacted` hides what a caller said or typed in text the code does not control (exception messages,
tracebacks, SQL errors with their parameters); LOG_CALLER_NUMBERS=1 turns it off for debugging.
"""

from __future__ import annotations

import re
import traceback

# Phone numbers and typed digits: a run of 4 or more digits (with an optional +) that is not part of a word,
# so SIDs ("CA" + hex), line numbers and dates stay readable.
_DIGITS = re.compile(r"(?<![\w.:/-])\+?\d{4,}(?![\w.:/-])")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.S)


def redacted(text: str, keep: bool = False) -> str:
    """`text` with numbers and digit runs replaced and SQL parameters hidden (unchanged when `keep`)."""
    if keep:
        return text
    return _DIGITS.sub("[digits]", _SQL_PARAMETERS.sub("[parameters hidden]", text))


def describe(exc: BaseException, keep: bool = False) -> str:
    """An exception's type and message, redacted (SQLAlchemy's own message without its SQL)."""
    orig = getattr(exc, "orig", None)
    message = str(orig) if orig is not None else str(exc)
    return redacted(f"{type(exc).__name__}: {message}".strip(), keep)


def redacted_traceback(exc: BaseException, keep: bool = False) -> str:
    """The traceback of `exc`, redacted, for a log line."""
    return redacted("".join(traceback.format_exception(exc)).rstrip(), keep)
