"""The call log's side of a webhook (ivr.calls.steps): one round trip per write on PostgreSQL, one read for
the call and the kept answer, no pool checkout per request, and a fresh connection after a failure."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from lxml import etree
from sqlalchemy import select

from ivr import deadline
from ivr.calls import steps
from ivr.calls.journal import read
from ivr.models import STATUS_RANK, CallEvent, StatusCallback, WebhookAnswer
from ivr.voice.journal_replay import journal

from ..helpers import call_row, event_kinds, events
from ..twilio import CallDriver, TwilioClient, new_sid, one, parse
from .roundtrips import RoundTrips

TOKEN = "I-Twilio-Idempotency-Token"


def on_postgresql(app: Flask) -> bool:
    return app.extensions["ivr.db"].engine.dialect.name == "postgresql"


def _press(call: CallDriver, root: Any, digits: str, token: str) -> Any:
    url = one(root, "//Gather/@action")
    return parse(call.twilio.post(url, call.params(Digits=digits), headers={TOKEN: token}))


def test_each_request_kind_costs_the_round_trips_designed(app, call, twilio):
    """PostgreSQL: a new call 2 (the read of call and kept answer, then one write), a step 2 (+1 per desk
    whose figures it reads), a status callback 1; no pool checkout once the thread holds its connection."""
    app.extensions["ivr.flows"].check_seconds = 3600  # as served: the newest flows read now and then only
    for _ in range(2):  # the first publishes the flows folder, the second reads the version published
        twilio.post("/voice/incoming", twilio.call_params(new_sid()))
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    with counter.counting():
        menu = call.start()
    incoming = (counter.trips, counter.checkouts)
    with counter.counting():
        options = _press(call, menu, "1", "t-1")
    step = (counter.trips, counter.checkouts)
    with counter.counting():
        queue = _press(call, options, "2", "t-2")  # to the local desk: its figures are read (overflow)
    to_desk = counter.trips
    with counter.counting():
        assert call.twilio.status(call.sid, "completed", 5, CallDuration="30").status_code == 204
    status = (counter.trips, counter.checkouts)
    assert one(queue, "/Response/Enqueue/text()") == "local-desk"
    if on_postgresql(app):
        assert (incoming, step, to_desk, status) == ((2, 0), (2, 0), 3, (1, 0))
    else:  # SQLite: the same reads, each write a short transaction of a few statements
        assert (incoming[1], step[1], status[1]) == (0, 0, 0)


def test_a_new_call_and_its_steps_leave_the_rows_they_always_did(app, call, session):
    call.twilio.status(call.sid, "ringing", 1)  # Twilio's status callback may log the call first
    menu = call.start()
    _press(call, _press(call, menu, "1", "rows-1"), "2", "rows-2")
    call.twilio.status(
        call.sid, "completed", 3, CallDuration="30", Timestamp="Tue, 24 Nov 2026 16:02:03 -0000"
    )
    call.twilio.status(call.sid, "in-progress", 2)  # late, lower rank: logged, never moving the call back
    row = call_row(session, call.sid)
    assert (row.status, row.status_rank, row.duration, row.desk, row.flow) == (
        "completed",
        4,
        30,
        "local",
        "main",
    )
    assert row.ended_at.isoformat() == "2026-11-24T16:02:03+00:00"
    assert row.site_version_id is not None and row.variables and row.updated_at >= row.started_at
    kinds = event_kinds(session, call.sid)
    assert kinds[0] == "status" and kinds[-2:] == ["status", "status"]
    assert kinds.count("status") == 3 and len(kinds) > 5
    # in id order: the tests empty tables by DELETE, and after a vacuum the heap's order is not the ids'
    statuses = session.scalars(
        select(CallEvent.data)
        .where(CallEvent.call_id == row.id, CallEvent.kind == "status")
        .order_by(CallEvent.id)
    )
    assert [d["status"] for d in statuses] == ["ringing", "completed", "in-progress"]
    seen = session.scalars(select(StatusCallback.sequence_number).where(StatusCallback.call_sid == call.sid))
    assert sorted(seen) == [1, 2, 3]
    kept = session.scalars(select(WebhookAnswer.key).where(WebhookAnswer.call_sid == call.sid))
    assert sorted(kept) == [f"incoming:{call.sid}", "token:rows-1", "token:rows-2"]


def test_a_status_callback_logs_an_unknown_call_with_its_status_and_end(twilio, session):
    sid = new_sid()
    params = twilio.call_params(sid, status="busy", SequenceNumber="0", CallDuration="0", AnsweredBy="human")
    assert twilio.post("/voice/status", params).status_code == 204
    assert twilio.post("/voice/status", params).status_code == 204  # Twilio's retry: applied once
    row = call_row(session, sid)
    assert (row.status, row.status_rank, row.duration, row.role) == ("busy", 4, 0, "caller")
    assert row.ended_at is not None
    (status,) = session.scalars(select(CallEvent.data).where(CallEvent.call_id == row.id))
    assert status == {
        "status": "busy",
        "sequence": 0,
        "duration": 0,
        "timestamp": None,
        "answered_by": "human",
    }


def test_a_status_callback_repeated_with_its_token_is_not_applied_again(twilio, session):
    sid = new_sid()
    headers = {TOKEN: "status-1"}
    for _ in range(2):  # no SequenceNumber: only the kept answer's key tells the repeat
        params = twilio.call_params(sid, status="ringing")
        assert twilio.post("/voice/status", params, headers=headers).status_code == 204
    assert event_kinds(session, sid) == ["status"]
    assert session.scalar(select(WebhookAnswer.status).where(WebhookAnswer.key == "token:status-1")) == 204


def test_a_repeated_step_is_answered_from_the_kept_answer_in_the_same_read(app, call, session):
    menu = call.start()
    first = _press(call, menu, "1", "again-1")
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    with counter.counting():
        again = _press(call, menu, "1", "again-1")
    assert one(again, "//Gather/@action") == one(first, "//Gather/@action")
    if on_postgresql(app):
        assert counter.trips == 1  # the read found the kept answer: nothing else
    logged = event_kinds(session, call.sid)
    assert etree.tostring(call.start()) == etree.tostring(menu)  # the first request again: its kept answer
    assert event_kinds(session, call.sid) == logged


def test_webhooks_from_several_threads_each_hold_their_own_connection(app, twilio, session):
    sids = [new_sid() for _ in range(4)]
    answers: list[int] = []

    def one_call(sid: str) -> None:
        client = twilio.client.application.test_client()
        own = TwilioClient(client, twilio.token, base=twilio.base)
        answers.append(own.post("/voice/incoming", own.call_params(sid)).status_code)

    threads = [threading.Thread(target=one_call, args=(sid,)) for sid in sids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200] * 4
    assert all(call_row(session, sid).site_version_id is not None for sid in sids)


def test_a_held_connection_that_broke_between_requests_is_replaced(app, call, session, caplog):
    """Its socket cut (PostgreSQL) or closed under it (SQLite): the next step answers the fallback (no
    pre-ping: a round trip per request), and the one after it goes on over a new connection."""
    database = app.extensions["ivr.db"]
    menu = call.start()
    held = database.held_connection()
    dbapi = held.connection.dbapi_connection
    if on_postgresql(app):
        deadline.cut(dbapi)  # what the watchdog does past a deadline
    else:
        dbapi.close()
    assert one(call.press(menu, "1"), "/Response/Enqueue/text()") == "local-desk"  # the site's fallback
    assert any("step /voice/step/main/language/input" in r.getMessage() for r in caplog.records)
    assert database.held_connection() is None
    options = call.press(menu, "1")
    assert one(options, "//Gather/@action")
    assert database.held_connection() is not None and database.held_connection() is not held
    assert call_row(session, call.sid).node != "language"


def test_a_step_that_fails_outside_the_database_keeps_the_held_connection(app, call, session, monkeypatch):
    """A broken flow (any error not the database's) answers the fallback and rolls back what the step wrote,
    but costs no reconnect: the next request goes on over the same held connection, nothing left open."""
    from ivr.calls import log as calllog
    from ivr.voice import flow

    database = app.extensions["ivr.db"]
    menu = call.start()
    held = database.held_connection()
    row = call_row(session, call.sid)

    def written_then_broken(run: Any, _now: Any) -> Any:
        half = {"row_id": row.id, "node": "half-done", "updated_at": row.updated_at}
        run.execute(calllog.UPDATE_CALL, half)
        raise RuntimeError("flow on fire")

    with monkeypatch.context() as patch:
        patch.setattr(flow, "_context", written_then_broken)
        assert one(call.press(menu, "1"), "/Response/Enqueue/text()") == "local-desk"  # the fallback
    assert database.held_connection() is held
    assert not held.in_transaction()
    assert not getattr(held.connection.dbapi_connection, "in_transaction", False)  # sqlite3: none begun
    session.expire_all()
    half_done = call_row(session, call.sid).node
    # SQLite: the half-done write rolled back; PostgreSQL's held connection commits each statement as it
    # returns (each step write there is one statement, so no step is ever half done)
    assert half_done == ("half-done" if on_postgresql(app) else "language")
    options = call.press(menu, "1")
    assert one(options, "//Gather/@action")
    assert database.held_connection() is held
    assert call_row(session, call.sid).errors == 1


def test_a_status_callback_whose_write_fails_answers_204_is_logged_and_journaled(
    app, twilio, monkeypatch, caplog
):
    def broken(*_args: Any, **_kwargs: Any) -> bool:
        raise RuntimeError("database on fire")

    for store in (steps.PostgreSQLSteps, steps.SQLiteSteps):
        monkeypatch.setattr(store, "status", broken)
    sid = new_sid()
    assert twilio.status(sid, "completed", 3).status_code == 204
    assert any(sid in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    (record,) = read(journal(app).path)
    assert (record["kind"], record["params"]["CallSid"]) == ("callback", sid)


def test_a_status_callback_without_a_status_logs_an_unknown_call_alike_on_both_databases(twilio, session):
    """A call first seen in a callback that names no CallStatus is logged as ringing, its rank agreeing."""
    sid = new_sid()
    params = twilio.call_params(sid)
    params.pop("CallStatus", None)
    assert twilio.post("/voice/status", params).status_code == 204
    row = call_row(session, sid)
    assert (row.status, row.status_rank) == ("ringing", STATUS_RANK["ringing"])


def _transcribed(twilio: TwilioClient, sid: str, status: str, text: str, token: str) -> int:
    params = twilio.call_params(sid, status="completed", TranscriptionStatus=status, TranscriptionText=text)
    return twilio.post("/voice/transcription", params, headers={TOKEN: token}).status_code


def test_a_transcription_is_one_write_and_kept_once_on_a_known_call(app, call, twilio, session):
    call.start()
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    with counter.counting():
        assert _transcribed(twilio, call.sid, "completed", "Call me back", "tr-1") == 204
    if on_postgresql(app):
        assert counter.trips == 1  # found, set, logged and its answer kept: one statement
    assert _transcribed(twilio, call.sid, "completed", "Call me back", "tr-1") == 204  # Twilio's retry
    row = call_row(session, call.sid)
    assert row.transcription == "Call me back" and row.updated_at >= row.started_at
    assert event_kinds(session, call.sid)[-1] == "transcription"
    assert [e.data for e in events(session, call.sid, "transcription")] == [
        {"status": "completed", "text": "Call me back"}
    ]
    assert session.scalar(select(WebhookAnswer.status).where(WebhookAnswer.key == "token:tr-1")) == 204


def test_a_failed_transcription_is_logged_but_not_kept_on_the_call(call, twilio, session):
    call.start()
    assert _transcribed(twilio, call.sid, "failed", "", "tr-failed") == 204
    assert call_row(session, call.sid).transcription is None
    assert [e.data["status"] for e in events(session, call.sid, "transcription")] == ["failed"]


def test_a_transcription_of_a_call_not_logged_yet_logs_it_with_the_text(twilio, session):
    """Its first steps answered while the database was down: the call is logged by the transcription."""
    sid = new_sid()
    assert _transcribed(twilio, sid, "completed", "Hello there", "tr-new") == 204
    row = call_row(session, sid)
    assert (row.transcription, row.status, row.role, row.from_number) == (
        "Hello there",
        "completed",
        "caller",
        "+15125550199",
    )
    assert event_kinds(session, sid) == ["transcription"]


def test_a_fallback_result_is_one_write_and_logs_the_call_once(app, twilio, session):
    sid = new_sid()
    params = twilio.call_params(sid, QueueResult="hangup", QueueTime="12", Digits="1234")
    counter = RoundTrips(app.extensions["ivr.db"].engine)
    with counter.counting():
        answer = twilio.post("/voice/fallback", params, headers={TOKEN: "fb-1"})
    assert answer.status_code == 200 and parse(answer).tag == "Response"
    if on_postgresql(app):
        assert counter.trips == 1
    twilio.post("/voice/fallback", params, headers={TOKEN: "fb-1"})  # a retry: logged once
    twilio.post("/voice/fallback", params)  # no token: Twilio's own retry cannot be told apart, logged again
    logged = [e.data for e in events(session, sid, "fallback_result")]
    assert logged == [{"QueueResult": "hangup", "QueueTime": "12"}] * 2
    assert call_row(session, sid).transcription is None
