"""The dialer's log lines name attempts, never the numbers Twilio's refusals may quote."""

from __future__ import annotations

from ivr.dialer.worker import _safe


def test_twilio_refusals_are_logged_without_the_number() -> None:
    refusal = "HTTP 400: The 'To' number +15125550123 is not a valid phone number (21211)"
    assert "5125550123" not in _safe(refusal)
    assert "5125550123" not in _safe(ValueError(refusal))
    assert _safe(ValueError(refusal)).startswith("ValueError: HTTP 400: The 'To' number")
