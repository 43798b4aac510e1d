"""Nothing lost: webhooks answered while the database is unavailable are journaled, then replayed into the
call log once, as if nothing had happened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from ivr.calls.journal import read
from ivr.cli.main import main
from ivr.db import DatabaseUnavailable
from ivr.models import Call, CallEvent, JournalReplay
from ivr.voice import journal_replay
from ivr.voice.journal_replay import journal, replay, replayer

from ..helpers import call_row, event_kinds, events
from ..twilio import CallDriver, new_sid, one, parse, xpath

CALL_LOG_TABLES = ("calls", "call_events", "status_callbacks", "webhook_answers")


class Outage:
    """The app's database made unavailable: every statement fails, as when the server is down."""

    def __init__(self, app: Flask) -> None:
        self.engine = app.extensions["ivr.db"].engine
        self.statements = 0  # on the call log, tried while down (the flow store may look for a new version)

    def _fail(self, _conn, _cursor, statement: str, parameters, *_args: object) -> None:
        if any(table in statement for table in CALL_LOG_TABLES):
            self.statements += 1
        cause = self.engine.dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")
        raise OperationalError(statement, parameters, cause)

    @contextmanager
    def down(self) -> Iterator[Outage]:
        """While inside: the database fails."""
        event.listen(self.engine, "before_cursor_execute", self._fail)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self._fail)


@pytest.fixture
def outage(app: Flask) -> Outage:
    return Outage(app)


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _records(app: Flask) -> list[dict]:
    book = journal(app)
    return [*read(book.replaying), *read(book.path)]


def test_a_step_without_the_database_answers_the_fallback_and_is_journaled(app, call, session, outage):
    menu = call.start()
    with outage.down():
        fallback = call.press(menu, "1")
    assert one(fallback, "/Response/Enqueue/text()") == "local-desk"  # the site's fallback, valid TwiML
    assert outage.statements == 1  # the failed statement only: nothing touched the database after it
    (record,) = _records(app)
    assert (record["kind"], record["path"], record["params"]["CallSid"]) == (
        "step",
        "/voice/step/main/language/input",
        call.sid,
    )
    assert "Digits" not in record["params"]  # what the caller typed is not kept
    assert "OperationalError" in record["error"]
    assert call_row(session, call.sid).errors == 0  # not in the log yet

    assert replay(app).applied == 1
    row = call_row(session, call.sid)
    assert row.errors == 1
    (error,) = events(session, call.sid, "error")
    assert error.data["path"] == "/voice/step/main/language/input"
    assert "OperationalError" in error.data["error"]
    assert not journal(app).pending()


def test_a_whole_call_during_an_outage_is_in_the_log_afterwards(app, twilio, session, outage):
    sid = new_sid()
    with outage.down():
        first = parse(twilio.post("/voice/incoming", twilio.call_params(sid)))
        done = twilio.post("https://ivr.test/voice/fallback", twilio.call_params(sid, QueueResult="hangup"))
        status = twilio.status(
            sid, "completed", 3, CallDuration="42", Timestamp="Tue, 24 Nov 2026 16:00:42 +0000"
        )
    assert xpath(first, "/Response/Enqueue")
    assert len(parse(done)) == 0
    assert status.status_code == 503  # Twilio retries it when the status callback URL asks (#rp=5xx)
    assert [r["kind"] for r in _records(app)] == ["step", "callback", "callback"]
    assert _count(session, Call) == 0

    assert replay(app).applied == 3
    row = call_row(session, sid)
    assert (row.status, row.duration, row.errors) == ("completed", 42, 1)
    assert row.ended_at.isoformat() == "2026-11-24T16:00:42+00:00"
    assert event_kinds(session, sid) == ["error", "fallback_result", "status"]
    assert events(session, sid, "fallback_result")[0].data == {"QueueResult": "hangup"}


def test_replaying_twice_adds_nothing_twice(app, call, session, outage):
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
        twilio = call.twilio
        twilio.status(call.sid, "completed", 5, CallDuration="30")
    saved = journal(app).path.read_bytes()
    assert replay(app).applied == 2
    events_after = _count(session, CallEvent)
    # a crash after the records were applied but before the file went away: the same records again
    journal(app).path.write_bytes(saved)
    again = replay(app)
    assert (again.applied, again.repeated) == (0, 2)
    assert _count(session, CallEvent) == events_after
    assert call_row(session, call.sid).errors == 1
    assert _count(session, JournalReplay) == 2


def test_a_retried_status_callback_already_stored_is_not_applied_again(app, call, session, outage):
    call.start()
    with outage.down():
        assert call.twilio.status(call.sid, "completed", 4, CallDuration="12").status_code == 503
    assert (
        call.twilio.status(call.sid, "completed", 4, CallDuration="12").status_code == 204
    )  # Twilio's retry
    replayer(app).wait()  # the retry found records waiting: it replayed them in the background
    assert len(events(session, call.sid, "status")) == 1
    assert not journal(app).pending()


def test_the_first_webhook_after_the_outage_replays_in_the_background(app, twilio, session, outage):
    sid = new_sid()
    with outage.down():
        twilio.post("/voice/incoming", twilio.call_params(sid))
    later = CallDriver(twilio)
    later.start()  # answered at once; the replay runs beside it
    replayer(app).wait()
    assert call_row(session, sid).errors == 1
    assert not journal(app).pending()


def test_records_written_during_a_replay_are_kept(app, call, outage):
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
    book = journal(app)
    taken = book.take()
    with outage.down():
        call.press(menu, "2")  # while the first record is being replayed
    book.done(taken)
    assert [r["kind"] for r in read(book.path)] == ["step"]
    assert replay(app).applied == 1


def test_database_unavailable_from_the_deadline_is_an_outage(app, call, session, monkeypatch):
    menu = call.start()

    def expired(*_args, **_kwargs):
        raise DatabaseUnavailable("the request's deadline passed")

    monkeypatch.setattr("ivr.voice.flow.step", expired)
    fallback = call.press(menu, "1")
    assert one(fallback, "/Response/Enqueue/text()") == "local-desk"
    assert _records(app)[0]["error"] == "DatabaseUnavailable: the request's deadline passed"
    assert call_row(session, call.sid).errors == 0
    monkeypatch.undo()
    replay(app)
    assert call_row(session, call.sid).errors == 1


def test_a_record_that_cannot_be_applied_is_set_aside(app, call, session, outage, monkeypatch):
    call.start()
    with outage.down():
        call.twilio.post(
            "/voice/transcription", call.params(TranscriptionStatus="completed", TranscriptionText="hi")
        )

    def broken(*_args, **_kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr("ivr.calls.log.transcription", broken)
    assert replay(app).failed == 1
    assert not journal(app).pending()
    assert journal(app).status().failed == 1


def test_a_record_that_always_fails_with_an_operational_error_is_set_aside(app, call, outage, monkeypatch):
    """SQLite reports some mistakes as OperationalError: while the database answers, such a record is set
    aside instead of stopping every later replay at it."""
    call.start()
    with outage.down():
        call.twilio.post(
            "/voice/transcription", call.params(TranscriptionStatus="completed", TranscriptionText="hi")
        )

    def mistaken(*_args, **_kwargs):
        raise OperationalError("UPDATE calls SET nosuch = 1", {}, Exception("no such column: nosuch"))

    monkeypatch.setattr("ivr.calls.log.transcription", mistaken)
    assert replay(app).failed == 1
    assert not journal(app).pending()


def test_a_full_journal_drops_new_records_loudly(app, call, outage, caplog):
    menu = call.start()
    app.extensions["ivr.journal"] = type(journal(app))(journal(app).path, max_bytes=200)
    with outage.down():
        fallback = call.press(menu, "1")  # still answered
    assert xpath(fallback, "/Response/Enqueue")
    assert not journal(app).path.exists() or journal(app).path.stat().st_size == 0
    assert journal(app).status().dropped == 1
    assert any("JOURNAL FULL" in r.getMessage() for r in caplog.records)


def test_cli_status_and_replay(app, call, session, outage, runner, env, monkeypatch, config):
    monkeypatch.setenv("JOURNAL_PATH", config["JOURNAL_PATH"])
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
    result = runner.invoke(main, ["journal", "status"])
    assert result.exit_code == 0, result.output
    assert "waiting: 1 record(s)" in result.output
    result = runner.invoke(main, ["journal", "replay"])
    assert result.exit_code == 0, result.output
    assert "replayed 1 record(s)" in result.output
    assert call_row(session, call.sid).errors == 1
    assert "waiting: 0 record(s)" in runner.invoke(main, ["journal", "status"]).output


def test_journal_lines_are_json_records(app, call, outage):
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
    lines = Path(app.config["JOURNAL_PATH"]).read_text().splitlines()
    assert [json.loads(line)["params"]["CallSid"] for line in lines] == [call.sid]


def test_the_agent_line_without_the_database_answers_its_own_apology(app, call, twilio, outage):
    from ivr.engine.agent_line import APOLOGY

    from ..helpers import AGENT_LINE

    call.start()  # the flows version is known before the outage
    agent_sid = new_sid()
    with outage.down():
        root = parse(
            twilio.post("/voice/incoming", twilio.call_params(agent_sid, "+17375550101", AGENT_LINE))
        )
    assert one(root, "/Response/Say/text()") == APOLOGY
    assert not xpath(root, "//Enqueue")  # not the callers' fallback
    assert [r["params"]["CallSid"] for r in _records(app)] == [agent_sid]


def test_a_replay_while_another_process_replays_does_nothing(app, call, session, outage):
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
    with journal(app).replay_lock():  # as another process would hold it
        assert replay(app).busy
        assert call_row(session, call.sid).errors == 0
    assert replay(app).applied == 1


def test_callbacks_of_a_call_only_the_journal_holds_are_logged_with_their_call(twilio, session) -> None:
    """The database came back before the journal was replayed: the fallback's report and a transcription
    of a call whose first steps are only in the journal log the call now instead of being dropped."""
    sid = new_sid()
    done = twilio.post("https://ivr.test/voice/fallback", twilio.call_params(sid, QueueResult="hangup"))
    assert done.status_code == 200
    [result] = events(session, sid, "fallback_result")
    assert result.data["QueueResult"] == "hangup"
    other = new_sid()
    params = twilio.call_params(other, TranscriptionStatus="completed", TranscriptionText="call me back")
    assert twilio.post("/voice/transcription", params).status_code == 204
    assert call_row(session, other).transcription == "call me back"


@pytest.fixture
def frozen_monotonic(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The replayer's monotonic clock, held still until a test moves it (the list's only item)."""
    now = [1000.0]
    monkeypatch.setattr(journal_replay, "monotonic", lambda: now[0])
    return now


def test_records_another_process_journaled_are_replayed_at_the_next_check(
    app, call, session, outage, frozen_monotonic
):
    """A process looks for records other processes journaled at most every JOURNAL_CHECK_SECONDS."""
    app.config["JOURNAL_CHECK_SECONDS"] = 5
    menu = call.start()
    with outage.down():
        call.press(menu, "1")
    book = journal(app)
    theirs = book.path.read_bytes()  # the record, as if another process had journaled it...
    book.path.unlink()
    call.twilio.status(call.sid, "in-progress", 1)  # (this process looks at once: it journaled)
    with book.path.open("ab") as file:
        file.write(theirs)  # ...just after this process looked
    call.twilio.status(call.sid, "in-progress", 2)
    replayer(app).wait()
    assert book.pending() and call_row(session, call.sid).errors == 0  # not looked for yet
    frozen_monotonic[0] += 5
    call.twilio.status(call.sid, "in-progress", 3)
    replayer(app).wait()
    assert not book.pending() and call_row(session, call.sid).errors == 1


def test_a_record_this_process_journaled_is_replayed_at_its_next_stored_webhook(
    app, call, session, outage, frozen_monotonic
):
    app.config["JOURNAL_CHECK_SECONDS"] = 3600
    menu = call.start()  # looked: nothing waits
    with outage.down():
        call.press(menu, "1")
    call.twilio.status(call.sid, "in-progress", 1)
    replayer(app).wait()
    assert not journal(app).pending() and call_row(session, call.sid).errors == 1


def test_a_check_interval_of_zero_looks_at_every_stored_webhook(app, call, session, outage, frozen_monotonic):
    app.config["JOURNAL_CHECK_SECONDS"] = 0
    call.start()
    with outage.down():
        call.twilio.status(call.sid, "in-progress", 1)
    book = journal(app)
    theirs = book.path.read_bytes()
    book.path.unlink()
    call.twilio.status(call.sid, "in-progress", 2)
    with book.path.open("ab") as file:
        file.write(theirs)
    call.twilio.status(call.sid, "in-progress", 3)
    replayer(app).wait()
    assert not book.pending()
