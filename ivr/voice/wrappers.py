"""What wraps every voice webhook: `call_step` (an error answers a fallback) and `callback` (log-only); both
answer repeats from the kept answer and, without the database, answer at once and journal the request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import TypeVar, overload

from flask import Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..calls.logsafe import describe, hidden_values, redacted_traceback
from ..db import conflicted, database, session
from ..engine import agent_line
from ..extensions import clock, flows
from . import journal_replay, repeats
from .journal_replay import note_failure, unavailable
from .responses import fallback_twiml, twiml

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Response])
Fallback = Callable[[], Response]
_FAILED = "step_failed"  # g: this request's step answered a fallback


def keep_numbers() -> bool:
    """LOG_CALLER_NUMBERS=1: log lines may show numbers, digits and what callers said (debugging only)."""
    return bool(current_app.config.get("LOG_CALLER_NUMBERS"))


def _safe(exc: BaseException) -> str:
    """An exception for a log line: without what the caller typed or said, unless LOG_CALLER_NUMBERS."""
    return describe(exc, keep_numbers(), hidden_values(request.form))


def _forget_session() -> None:
    """Drop this request's session and the held connection without a round trip: their connections are
    closed, not rolled back (the next request opens new ones)."""
    database().drop_webhook_connection()
    found = g.pop("db_session", None)
    if found is not None:
        try:
            found.invalidate()
        except Exception:  # closing a dead connection may complain; nothing else to do
            log.debug("closing the failed session's connection failed", exc_info=True)


def _roll_back(exc: Exception) -> None:
    """Roll back this request's session and the held connection's work. After a database error the held
    connection is closed (the next request opens a new one rather than go on with a connection in a state
    no one checked); after any other error (a broken flow, a transaction lost to another) it is kept."""
    session().rollback()
    if isinstance(exc, SQLAlchemyError) and not conflicted(exc):  # the driver's errors too (ivr.calls.driver)
        database().drop_webhook_connection()
    else:
        database().reset_webhook_connection()


def flow_fallback() -> Response:
    """The apology and the site's fallback, fitting the step's event (see `fallback_actions`); a call to
    the agent line gets the agent line's apology, never the callers' fallback."""
    site = flows().site_for_fallback()
    line = site.agent_line if site is not None else None
    if line is not None and request.form.get("To", "") in line.numbers:
        return twiml(agent_line.apology())
    event = str((request.view_args or {}).get("event", ""))
    return fallback_twiml(site, event, request.form)


@overload
def call_step(handler: F, /) -> F: ...
@overload
def call_step(*, fallback: Fallback = ..., reads_kept: bool = ...) -> Callable[[F], F]: ...
def call_step(
    handler: F | None = None, /, *, fallback: Fallback = flow_fallback, reads_kept: bool = False
) -> F | Callable[[F], F]:
    """Run a call step once per request (a repeat gets the kept answer); on an error answer `fallback`.

    `reads_kept`: the handler reads the kept answer itself, with its call (one read: ivr.calls.steps), and
    answers a repeat with it (`repeats.kept_response`).

    The database unavailable: answer at once and journal the step. Any other error: roll back, log it with
    the CallSid and count it on the call.
    """

    def decorate(handler: F) -> F:
        @wraps(handler)
        def wrapper(*args: object, **kwargs: object) -> Response:
            sid = request.form["CallSid"]
            outermost = "repeat_key" not in g  # the agent line's incoming step runs inside incoming's
            key = None
            try:
                if outermost:
                    key = g.repeat_key = repeats.repeat_key()
                    kept = None if reads_kept else repeats.kept_answer(key)
                    if kept is not None:
                        return kept
                answer = handler(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as exc:
                return _failed_step(sid, exc, fallback)
            if outermost and not g.get(_FAILED):  # a fallback answer is not kept: a retry runs the step
                _keep(sid, key, answer)
                journal_replay.start_if_pending()
            return answer

        return wrapper  # type: ignore[return-value]

    return decorate if handler is None else decorate(handler)


def _keep(sid: str, key: str | None, answer: Response) -> None:
    """Keep the answer for repeats when the handler did not; the step is stored already, so a failure here
    only means a repeat would run it again."""
    try:
        repeats.keep(key, answer)
    except Exception as exc:
        if unavailable(exc):
            _forget_session()
        else:
            _roll_back(exc)
        log.error("call %s: answer of step %s not kept for repeats: %s", sid, request.path, _safe(exc))


def _failed_step(sid: str, exc: Exception, fallback: Fallback) -> Response:
    g.setdefault(_FAILED, True)
    if unavailable(exc):
        _forget_session()
        log.error("call %s: step %s answered without the database: %s", sid, request.path, _safe(exc))
        journal_replay.write_step(describe(exc, keep=True))
        return fallback()
    _roll_back(exc)
    trace = redacted_traceback(exc, keep_numbers(), hidden_values(request.form))
    log.error("call %s: step %s failed\n%s", sid, request.path, trace)
    _note_failure(sid, exc)
    return fallback()


def _note_failure(sid: str, exc: Exception) -> None:
    """Log the call (even one whose first step failed), count the error and log it; journaled when the
    database fails now."""
    error = f"{type(exc).__name__}: {exc}"
    try:
        s = session()
        note_failure(s, request.form, request.path, error, clock())
        s.commit()
    except Exception as again:
        if unavailable(again):
            _forget_session()
            journal_replay.write_step(error)
        else:
            session().rollback()
        log.error("call %s: could not log the error: %s", sid, _safe(again))


Fast = Callable[[str | None], bool]


def callback(
    answer: Callable[[], Response],
    unstored: Callable[[], Response] | None = None,
    fast: Fast | None = None,
) -> Callable[[Callable[[], None]], Callable[[], Response]]:
    """A callback that only logs: run it once per request, commit, and give Twilio `answer`.

    `fast(key)`: the callback stored in one write on the held connection, its answer kept under `key` in
    it (ivr.calls.steps); False when the request needs the handler's transaction instead. The handler
    alone (`__wrapped__`) is what the journal replays.

    A failure is journaled (replayed later) and logged by CallSid. When the database is unavailable the
    answer is `unstored` (if given: a status code that makes Twilio retry where it retries), else `answer`.
    """

    def decorate(handler: Callable[[], None]) -> Callable[[], Response]:
        @wraps(handler)
        def wrapper() -> Response:
            sid = request.form["CallSid"]
            key = repeats.repeat_key()
            try:
                if fast is not None and fast(key):
                    pass
                elif repeats.kept_answer(key) is None:
                    handler()
                    repeats.keep_in_session(session(), key, Response(status=204))
                    session().commit()
            except Exception as exc:
                down = unavailable(exc)
                if down:
                    _forget_session()
                else:
                    _roll_back(exc)
                log.error("call %s: callback %s not stored (journaled): %s", sid, request.path, _safe(exc))
                journal_replay.write_callback(describe(exc, keep=True))
                return unstored() if down and unstored is not None else answer()
            journal_replay.start_if_pending()
            return answer()

        return wrapper

    return decorate
