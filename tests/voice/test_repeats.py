"""Repeated webhooks: Twilio's retry (same I-Twilio-Idempotency-Token) or a replayed signed request gets
the answer kept the first time, and the step does not run twice."""

from __future__ import annotations

from datetime import timedelta

from lxml import etree
from sqlalchemy import func, select

from ivr.db import utcnow
from ivr.models import CallEvent, WebhookAnswer
from ivr.voice.repeats import prune

from ..helpers import call_row, event_kinds, events
from ..twilio import CallDriver, new_sid, one, parse

TOKEN = "I-Twilio-Idempotency-Token"


def _events(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(CallEvent))


def _press(call: CallDriver, url: str, digits: str, token: str | None):
    headers = {TOKEN: token} if token else {}
    return parse(call.twilio.post(url, call.params(Digits=digits), headers=headers))


def test_a_step_repeated_with_the_same_token_runs_once(call, session):
    action = one(call.start(), "//Gather/@action")
    menu = _press(call, action, "1", "idem-1")
    before = (_events(session), call_row(session, call.sid).node)
    again = _press(call, action, "1", "idem-1")
    assert etree.tostring(again) == etree.tostring(menu)
    assert (_events(session), call_row(session, call.sid).node) == before


def test_the_same_step_with_a_new_token_runs_again(call, session):
    """Pressing a wrong key twice at a menu posts the same form twice: two requests, two tokens."""
    menu = call.press(call.start(), "1")
    action = one(menu, "//Gather/@action")
    _press(call, action, "9", "idem-a")
    tries = call_row(session, call.sid).tries
    _press(call, action, "9", "idem-b")
    assert call_row(session, call.sid).tries != tries


def test_a_repeated_incoming_request_gets_the_first_answer_even_with_another_token(twilio, session):
    sid = new_sid()
    first = parse(twilio.post("/voice/incoming", twilio.call_params(sid), headers={TOKEN: "one"}))
    count = _events(session)
    again = parse(twilio.post("/voice/incoming", twilio.call_params(sid), headers={TOKEN: "two"}))
    assert etree.tostring(again) == etree.tostring(first)
    assert _events(session) == count
    assert event_kinds(session, sid).count("flow_started") == 1


def test_a_repeated_callback_is_stored_once(call, session):
    call.start()
    params = call.params(TranscriptionStatus="completed", TranscriptionText="please call me back")
    for _ in range(2):
        assert call.twilio.post("/voice/transcription", params, headers={TOKEN: "idem-t"}).status_code == 204
    assert len(events(session, call.sid, "transcription")) == 1


def test_kept_answers_are_pruned(call, session):
    call.press(call.start(), "1")
    assert session.scalar(select(func.count()).select_from(WebhookAnswer)) == 1  # the incoming answer
    assert prune(session, timedelta(hours=48), utcnow()) == 0
    assert prune(session, timedelta(0), utcnow() + timedelta(seconds=1)) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebhookAnswer)) == 0
