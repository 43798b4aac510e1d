"""Webhooks answered without the database written to the journal, and replayed into the call log when it
is back: in order, each record once, in the background or by `ivr journal replay` (docs/call-log.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any, cast

from flask import Flask, Response, current_app, g, request
from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from ..calls import log as calllog
from ..calls.journal import DEFAULT_MAX_BYTES, Journal, new_record_id, read
from ..calls.logsafe import describe, hidden_values
from ..db import DatabaseUnavailable, InsertOrSkip, conflicted, session, utcnow
from ..extensions import clock
from ..models import JournalReplay
from . import repeats

log = logging.getLogger(__name__)
REPLAYS = cast(Table, JournalReplay.__table__)
FIRST_REPLAY = InsertOrSkip(REPLAYS, ("record_id", "replayed_at"), returning=("record_id",))
FORMAT = 1
# What a step's record keeps of the request: enough to log the call, never what the caller typed or said.
CALL_FIELDS = (
    "CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "ParentCallSid", "ApiVersion",
    "ForwardedFrom", "CallerName",
)  # fmt: skip


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be used now (rather than a mistake in a statement)."""
    if conflicted(exc):  # a deadlock or serialization failure: PostgreSQL's OperationalError, not an outage
        return False
    if isinstance(exc, DatabaseUnavailable | OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def journal(app: Flask | None = None) -> Journal:
    """The app's journal: JOURNAL_PATH (default: journal.jsonl in the instance folder), JOURNAL_MAX_BYTES."""
    app = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    found = app.extensions.get("ivr.journal")
    if found is None:
        path = app.config.get("JOURNAL_PATH") or Path(app.instance_path) / "journal.jsonl"
        size = app.config.get("JOURNAL_MAX_BYTES") or DEFAULT_MAX_BYTES
        found = app.extensions["ivr.journal"] = Journal(Path(path), int(size))
    return cast(Journal, found)


# -- writing ---------------------------------------------------------------------------------------


def _record(kind: str, params: Mapping[str, str], error: str) -> dict[str, Any]:
    return {
        "id": new_record_id(),
        "v": FORMAT,
        "kind": kind,
        "at": clock().isoformat(),
        "endpoint": request.endpoint,
        "path": request.path,
        "args": request.args.to_dict(),
        "token": request.headers.get(repeats.TOKEN_HEADER),
        "params": dict(params),
        "error": error,
    }


def write_step(error: str) -> bool:
    """Journal a call step answered with the fallback because of `error` (the call and the error only)."""
    params = {name: request.form[name] for name in CALL_FIELDS if name in request.form}
    return _append(_record("step", params, error) | {"answer": "fallback"})


def write_callback(error: str) -> bool:
    """Journal a log-only callback that could not be stored, with every parameter, to run it again."""
    return _append(_record("callback", request.form.to_dict(), error))


def _append(record: dict[str, Any]) -> bool:
    """Append to the app's journal; the next webhook that stores its work looks for records at once."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    appended = journal(app).append(record)
    replayer(app).next_check = float("-inf")  # after: a check meanwhile would have found nothing yet
    return appended


# -- replaying -------------------------------------------------------------------------------------


def note_failure(s: Session, params: Mapping[str, str], path: str, error: str, now: datetime) -> None:
    """What a failed step leaves in the call log: the call (logged if new), its error count and event."""
    call = calllog.find_or_insert_call(s, params, now)
    calllog.note_error(s, call, path, error, now)


@dataclass
class Replayed:
    """What one replay did."""

    applied: int = 0
    repeated: int = 0  # replayed before (another replay, or this one again after a crash)
    failed: int = 0  # set aside in <journal>.failed
    busy: bool = False  # another process was replaying


def replay(app: Flask) -> Replayed:
    """Replay every waiting record, oldest first; stops (keeping the rest) when the database fails."""
    done = Replayed()
    book = journal(app)
    with book.replay_lock() as mine:
        if not mine:
            done.busy = True
            return done
        while (taken := book.take()) is not None:
            for record in read(taken):
                outcome = _replay_record(app, record)
                setattr(done, outcome, getattr(done, outcome) + 1)
                if outcome == "failed":
                    book.set_aside(record)
            book.done(taken)
    if done.applied or done.failed:
        log.info(
            "journal replayed: %s applied, %s already, %s set aside", done.applied, done.repeated, done.failed
        )
    return done


def _replay_record(app: Flask, record: dict[str, Any]) -> str:
    """Apply one record in a transaction of its own: 'applied', 'repeated' or 'failed'. A database failure
    or a transaction lost to another is raised: the record and the ones after it stay for the next replay."""
    params = record.get("params") or {}
    token = record.get("token")
    with (
        app.app_context(),
        app.test_request_context(
            record.get("path", "/"),
            method="POST",
            data=params,
            query_string=record.get("args") or {},
            headers={repeats.TOKEN_HEADER: token} if token else {},
        ),
    ):
        g.simulated_now = datetime.fromisoformat(record["at"])
        s = session()
        try:
            if FIRST_REPLAY.execute(s, {"record_id": record["id"], "replayed_at": utcnow()}).first() is None:
                s.rollback()
                return "repeated"
            if record.get("kind") == "step":
                note_failure(s, params, request.path, str(record.get("error", "")), clock())
            else:
                _run_callback(app, s, str(record.get("endpoint")))
            s.commit()
            return "applied"
        except Exception as exc:
            s.rollback()
            if conflicted(exc) or (unavailable(exc) and not _answers(s)):
                raise  # a deadlock lost, or the database down: the record is tried again next time
            why = describe(exc, hide=hidden_values(params))
            log.error("journal record %s (call %s) could not be replayed: %s; set aside",
                      record.get("id"), params.get("CallSid"), why)  # fmt: skip
            return "failed"


def _answers(s: Session) -> bool:
    """Whether the database answers now: a record that failed with an operational error while it does fails
    every time (SQLite reports some mistakes so) and is set aside, not left to block every later replay."""
    try:
        s.execute(select(1))
        s.rollback()
        return True
    except Exception:
        s.rollback()
        return False


def _run_callback(app: Flask, s: Session, endpoint: str) -> None:
    """Run a callback's own handler (not its wrapper), unless Twilio's retry was stored meanwhile."""
    key = repeats.repeat_key()
    if repeats.kept_answer(key, s) is not None:
        return
    handler: Callable[[], None] = getattr(app.view_functions[endpoint], "__wrapped__")  # noqa: B009
    handler()
    repeats.keep_in_session(s, key, Response(status=204))


# -- in the background -----------------------------------------------------------------------------


@dataclass
class Replayer:
    """This process's background replay: at most one thread, started at most every JOURNAL_REPLAY_SECONDS;
    the journal looked at at most every JOURNAL_CHECK_SECONDS, unless this process journaled since."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    started_at: float = float("-inf")
    next_check: float = float("-inf")  # monotonic time from which the journal's files are looked at again

    def wait(self) -> None:
        """Wait for the running replay, if any (tests, shutdown)."""
        if self.thread is not None:
            self.thread.join()


def replayer(app: Flask) -> Replayer:
    """The app's background replayer."""
    found = app.extensions.get("ivr.journal_replayer")
    if found is None:  # setdefault only then: every webhook asks, and a Replayer is not free to build
        found = app.extensions.setdefault("ivr.journal_replayer", Replayer())
    return cast(Replayer, found)


def start_if_pending() -> None:
    """After a webhook that stored its work: replay the journal in the background if records wait."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    state = replayer(app)
    now = monotonic()
    if now < state.next_check:  # looked a moment ago, and this process journaled nothing since
        return
    state.next_check = now + float(app.config.get("JOURNAL_CHECK_SECONDS", 1))
    if not journal(app).pending():
        return
    pause = float(app.config.get("JOURNAL_REPLAY_SECONDS", 10))
    with state.lock:
        busy = state.thread is not None and state.thread.is_alive()
        if busy or monotonic() - state.started_at < pause:
            return
        state.started_at = monotonic()
        state.thread = threading.Thread(
            target=_in_background, args=(app,), name="journal-replay", daemon=True
        )
        state.thread.start()


def _in_background(app: Flask) -> None:
    try:
        replay(app)
    except Exception as exc:  # the database failed again: the next webhook tries later
        log.warning("journal replay stopped: %s", describe(exc))
