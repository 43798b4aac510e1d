"""Data policy: who sees which desk's calls, and the masking of phone numbers for partner viewers (pure).
What is masked and why: docs/desks.md, "Partner viewers"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from ..engine.site import Desk

MASK = "•••"
NUMBER_KEYS = frozenset(
    {"from", "to", "caller", "called", "number", "numbers", "from_number", "to_number", "caller_id",
     "callerid", "forwardedfrom", "forwarded_from", "phone", "phone_number", "callback_number"}
)  # fmt: skip
_SEP = r"[\s\-.()]{0,2}"
_E164 = re.compile(rf"(?<![\w+])\+{_SEP}\d(?:{_SEP}\d){{6,14}}(?!\w)")
_LONG_DIGITS = re.compile(rf"(?<![\w+])\d(?:{_SEP}\d){{9,14}}(?!\w)")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: ops (no desk: every call, every number) or a partner of one desk."""

    desk: str | None = None
    show_numbers: bool = True

    @property
    def is_partner(self) -> bool:
        """Whether this viewer is limited to one desk's calls."""
        return self.desk is not None

    @property
    def masks_numbers(self) -> bool:
        """Whether phone numbers are masked for this viewer."""
        return not self.show_numbers

    def describe(self) -> str:
        """The scope in words, for the page header."""
        if self.desk is None:
            return "ops: all desks"
        return f"partner: desk {self.desk}" + ("" if self.show_numbers else ", numbers masked")


OPS = Viewer()


def viewer_for(desk: str | None, desks: Mapping[str, Desk] | None) -> Viewer:
    """The viewer for a user's or token's desk, under the published site's data policy.

    A desk the site no longer has (or no published site at all) still limits the viewer to that desk's
    calls, with numbers masked: without a policy, nothing is shown that a policy might forbid.
    """
    if desk is None:
        return OPS
    found = (desks or {}).get(desk)
    return Viewer(desk=desk, show_numbers=bool(found and found.show_caller_numbers))


def _country_code(digits: str) -> str:
    """The E.164 country code at the start of `digits` ('' if none is assigned)."""
    for size in (1, 2, 3):
        if len(digits) > size and int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:size]
    return ""


def mask_number(value: str) -> str:
    """A phone number with its middle hidden: '+15125550123' -> '+1•••0123', '5550123' -> '•••123'.

    The country code of an international number and the last 4 (9+ digits left), 3 (7-8) or 2 (5-6)
    digits stay; shorter numbers are hidden whole. Text with digits in it that is not a bare number
    (a SIP address, say) has its phone numbers masked; text without 5 digits ('Anonymous',
    'client:alice') is returned as it is.
    """
    text = value.strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 5:
        return value
    if not re.fullmatch(r"\+?[\d\s\-.()]+", text):
        return mask_text(value)
    code = _country_code(digits) if text.startswith("+") else ""
    national = digits[len(code) :]
    keep = 4 if len(national) >= 9 else 3 if len(national) >= 7 else 2 if len(national) >= 5 else 0
    return ("+" + code if text.startswith("+") else "") + MASK + (national[-keep:] if keep else "")


def _spelled(number: str) -> re.Pattern[str] | None:
    """A pattern for a known number written in any spacing, with or without '+' and country code."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 5:
        return None
    code = _country_code(digits) if number.strip().startswith("+") else ""
    national = _SEP.join(digits[len(code) :])
    prefix = rf"(?:\+?{_SEP}{_SEP.join(code)}{_SEP})?" if code else r"\+?"
    return re.compile(rf"(?<![\w+]){prefix}{national}(?!\w)")


def mask_text(text: str, known: Iterable[str] = ()) -> str:
    """Free text with the known numbers (in any spacing) and anything like a phone number masked."""
    for pattern in filter(None, map(_spelled, known)):
        text = pattern.sub(lambda m: mask_number(m.group()), text)
    text = _E164.sub(lambda m: mask_number(m.group()), text)
    return _LONG_DIGITS.sub(lambda m: mask_number(m.group()), text)


def mask_data(data: Any, known: Iterable[str] = ()) -> Any:
    """A copy of JSON-like data (event data, variables) with phone numbers masked everywhere."""
    numbers = tuple(known)
    if isinstance(data, Mapping):
        return {
            key: _mask_field(value, numbers) if str(key).lower() in NUMBER_KEYS else mask_data(value, numbers)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [mask_data(item, numbers) for item in data]
    if isinstance(data, str):
        return mask_text(data, numbers)
    return data


def _mask_field(value: Any, known: tuple[str, ...]) -> Any:
    """A value under a key that names a number: each string in it is a number."""
    if isinstance(value, str):
        return mask_text(mask_number(value), known)
    if isinstance(value, list | tuple):
        return [_mask_field(item, known) for item in value]
    return mask_data(value, known)
