"""Log lines carry call SIDs, never the caller's number, what they typed or what they said; a setting
(LOG_CALLER_NUMBERS=1) shows them for debugging."""

from __future__ import annotations

import logging

import pytest

from ..twilio import one
from .test_journal import Outage

CALLER = "+15125550199"  # the CallDriver's caller
DIGITS = "774411"
SAID = "my secret words"


def _logged(caplog) -> str:
    return "\n".join(
        record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "") for record in caplog.records
    )


def _leaks(text: str) -> list[str]:
    return [secret for secret in (CALLER, CALLER[2:], DIGITS, SAID) if secret in text]


@pytest.fixture
def broken_step(monkeypatch):
    """The flow engine fails with a message that repeats what the caller typed and their number."""

    def broken(_site, _state, _event, params, context):
        raise RuntimeError(
            f"{context.caller} typed {params.get('Digits')} and said {params.get('SpeechResult')}"
        )

    monkeypatch.setattr("ivr.voice.flow.step", broken)


def test_a_failing_step_logs_the_call_sid_only(call, caplog, broken_step):
    menu = call.start()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        fallback = call.post(one(menu, "//Gather/@action"), Digits=DIGITS, SpeechResult=SAID)
    assert one(fallback, "/Response/Enqueue/text()") == "local-desk"
    text = _logged(caplog)
    assert call.sid in text and "RuntimeError" in text
    assert _leaks(text) == []


def test_log_caller_numbers_shows_them_for_debugging(app, call, caplog, broken_step):
    app.config["LOG_CALLER_NUMBERS"] = True
    menu = call.start()
    with caplog.at_level(logging.DEBUG):
        call.post(one(menu, "//Gather/@action"), Digits=DIGITS, SpeechResult=SAID)
    assert _leaks(_logged(caplog)) == [CALLER, CALLER[2:], DIGITS, SAID]


def test_a_step_without_the_database_logs_no_number_or_digits(app, call, caplog):
    menu = call.start()
    caplog.clear()
    with caplog.at_level(logging.DEBUG), Outage(app).down():
        call.post(one(menu, "//Gather/@action"), Digits=DIGITS)
    text = _logged(caplog)
    assert call.sid in text
    assert _leaks(text) == []


@pytest.mark.parametrize("database_down", [False, True])
def test_a_failing_callback_logs_no_transcription_or_number(app, call, caplog, monkeypatch, database_down):
    call.start()

    def broken(_status, text):
        raise ValueError(f"cannot keep {text!r}")

    monkeypatch.setattr("ivr.calls.log.transcription", broken)
    caplog.clear()
    params = call.params(TranscriptionStatus="completed", TranscriptionText=SAID)
    with caplog.at_level(logging.DEBUG):
        if database_down:
            with Outage(app).down():
                call.twilio.post("/voice/transcription", params)
        else:
            call.twilio.post("/voice/transcription", params)
    text = _logged(caplog)
    assert call.sid in text
    assert _leaks(text) == []
