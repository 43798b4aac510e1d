"""The data policy's masking of phone numbers and the viewer each desk's policy makes (ivr.calls.privacy)."""

from __future__ import annotations

import pytest

from ivr.calls.privacy import OPS, Viewer, mask_data, mask_number, mask_text, viewer_for
from ivr.engine.site import Desk


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+15125550123", "+1•••0123"),  # country code 1, last 4 of a 10-digit national number
        ("+447700900123", "+44•••0123"),
        ("+639175550123", "+63•••0123"),
        ("+9791234567", "+979•••567"),  # a 3-digit country code, 7 national digits: last 3
        ("+1 (512) 555-0123", "+1•••0123"),
        ("5125550123", "•••0123"),  # no '+': no country code to keep
        ("5550123", "•••123"),
        ("12345", "•••45"),
        ("1234", "1234"),  # not a phone number (too short to mask)
        ("", ""),
        ("Anonymous", "Anonymous"),
        ("client:alice", "client:alice"),
        ("sip:+15125550123@pbx.example", "sip:+1•••0123@pbx.example"),
    ],
)
def test_mask_number(number, masked):
    assert mask_number(number) == masked
    assert mask_number(masked) == masked  # masking twice changes nothing


def test_masked_numbers_keep_too_few_digits_to_dial():
    for number in ("+15125550123", "+447700900123", "+639175550123"):
        shown = [c for c in mask_number(number) if c.isdigit()]
        assert len(shown) <= 7 and len(shown) < len([c for c in number if c.isdigit()]) - 4


def test_mask_text_finds_the_calls_numbers_in_any_spacing():
    spoken = "+ 1 5 1 2 5 5 5 0 1 2 3"  # how a prompt says {caller:digits}
    text = f"you called from {spoken}, call back on 512-555-0123 or +44 7700 900123; account 12345678"
    masked = mask_text(text, ["+15125550123"])
    assert masked == "you called from +1•••0123, call back on •••0123 or +44•••0123; account 12345678"


def test_mask_text_leaves_call_sids_and_dates_alone():
    text = "CA1234567890123456789 at 2026-11-24T16:00:00Z, sequence 12"
    assert mask_text(text, ["+15125550123"]) == text


def test_mask_data_walks_nested_values_and_number_keys():
    data = {
        "From": "+15125550123",
        "To": "+15125550100",
        "numbers": ["+15125550100", "+15125550101"],
        "items": [{"text": "hello 5125550123"}],
        "reason": "sticky for +15125550123",
        "sequence": 3,
        "digits": "12345678",
    }
    assert mask_data(data, ["+15125550123"]) == {
        "From": "+1•••0123",
        "To": "+1•••0100",
        "numbers": ["+1•••0100", "+1•••0101"],
        "items": [{"text": "hello •••0123"}],
        "reason": "sticky for +1•••0123",
        "sequence": 3,
        "digits": "12345678",
    }


def test_viewer_follows_the_desks_data_policy():
    desks = {
        "local": Desk("local", "Local", queue="q1", show_caller_numbers=True),
        "bpo": Desk("bpo", "BPO", queue="q2", show_caller_numbers=False),
    }
    assert viewer_for(None, desks) == OPS and not OPS.is_partner and not OPS.masks_numbers
    assert viewer_for("local", desks) == Viewer("local", show_numbers=True)
    assert viewer_for("bpo", desks) == Viewer("bpo", show_numbers=False)
    gone = viewer_for("closed", desks)  # a desk no longer published: still only its calls, masked
    assert (gone.desk, gone.masks_numbers) == ("closed", True)
    assert viewer_for("bpo", None).masks_numbers
    assert viewer_for("bpo", desks).describe() == "partner: desk bpo, numbers masked"
    assert OPS.describe() == "ops: all desks"
