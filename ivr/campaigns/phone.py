"""Phone numbers: parse what people type into E.164 with phonenumbers, or say why not. Pure."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "no country code (write +CC... or give a default region)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


class PhoneError(ValueError):
    """A value that is not a valid phone number; the message says why."""


def check_region(region: str | None) -> str | None:
    """The region code in upper case (None stays None); ValueError for a code phonenumbers does not know."""
    if region is None or region == "":
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}: use a two-letter country code such as US or GB")
    return code


def to_e164(raw: str, region: str | None = None) -> str:
    """`raw` as an E.164 number (+15125550100); national numbers are read in `region` (e.g. US)."""
    return e164(parse_valid(raw, region))


def all_to_e164(values: list[str], region: str | None = None) -> tuple[list[str], list[str]]:
    """Each value in E.164, and a problem for each value that is not a valid number (in their order)."""
    numbers, problems = [], []
    for value in values:
        try:
            numbers.append(to_e164(value, region))
        except PhoneError as exc:
            problems.append(str(exc))
    return numbers, problems


def e164(number: PhoneNumber) -> str:
    """A parsed number written in E.164."""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def parse_valid(raw: str, region: str | None = None) -> PhoneNumber:
    """`raw` parsed (national numbers in `region`); PhoneError unless it is a valid number."""
    text = raw.strip()
    if not text:
        raise PhoneError("missing phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = PARSE_REASONS.get(exc.error_type, "not a phone number")
        raise PhoneError(f"bad number {text!r}: {reason}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(f"bad number {text!r}: not a valid number for its country and area")
    return parsed


def is_e164(text: str) -> bool:
    """Whether `text` is already a valid number written in E.164."""
    try:
        return to_e164(text) == text
    except PhoneError:
        return False


def region_of(e164: str) -> str | None:
    """The region (country) of an E.164 number, e.g. US for +1512..., None when unknown."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return None
    return str(region) if region and region != "ZZ" else None
