"""Signed requests with parameters no Twilio request has (found by tests/fuzz): answered as usual, with
nothing lost and no error inside."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from ..helpers import call_row
from ..twilio import new_sid


@pytest.mark.parametrize("attempt", ["²", "١", "9" * 30, "-1", ""])
def test_a_status_callback_naming_an_odd_attempt_is_stored(twilio, session, caplog, attempt):
    sid = new_sid()
    params = twilio.call_params(
        sid, status="completed", SequenceNumber="3", CallDuration="30", Direction="outbound-api"
    )  # a campaign's call: its attempt is looked up, by the id in the URL
    with caplog.at_level(logging.ERROR, logger="ivr"):
        answer = twilio.post(f"/voice/status?{urlencode({'attempt': attempt})}", params)
    assert answer.status_code == 204
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert call_row(session, sid).status == "completed"
