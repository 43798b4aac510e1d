"""What wraps every voice webhook: `call_step` (an error answers a fallback) and `callback` (log-only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import TypeVar, overload

from flask import Response, request
from werkzeug.exceptions import HTTPException

from ..calls import log as calllog
from ..db import session
from ..extensions import clock, flows
from .responses import fallback_twiml

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Response])
Fallback = Callable[[], Response]


def flow_fallback() -> Response:
    """The apology and the site's fallback, fitting the step's event (see `fallback_actions`)."""
    event = str((request.view_args or {}).get("event", ""))
    return fallback_twiml(flows().site_for_fallback(), event, request.form)


@overload
def call_step(handler: F, /) -> F: ...
@overload
def call_step(*, fallback: Fallback) -> Callable[[F], F]: ...
def call_step(handler: F | None = None, /, *, fallback: Fallback = flow_fallback) -> F | Callable[[F], F]:
    """Run a call step; on any error roll back, log it with the CallSid and answer `fallback` (the flow's)."""

    def decorate(handler: F) -> F:
        @wraps(handler)
        def wrapper(*args: object, **kwargs: object) -> Response:
            sid = request.form["CallSid"]
            try:
                return handler(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as exc:
                session().rollback()
                log.exception("call %s: step %s failed", sid, request.path)
                _note_failure(sid, exc)
                return fallback()

        return wrapper  # type: ignore[return-value]

    return decorate if handler is None else decorate(handler)


def _note_failure(sid: str, exc: Exception) -> None:
    """Best effort: log the call (even one whose first step failed), count the error, log it."""
    try:
        s = session()
        now = clock()
        call = calllog.find_or_insert_call(s, request.form, now)
        calllog.note_error(s, call, request.path, f"{type(exc).__name__}: {exc}", now)
        s.commit()
    except Exception:
        session().rollback()
        log.exception("call %s: could not log the error", sid)


def callback(answer: Callable[[], Response]) -> Callable[[Callable[[], None]], Callable[[], Response]]:
    """A callback that only logs: run it, commit, and give Twilio `answer` even when it fails.

    A failure is rolled back and logged with every parameter, so the callback can be replayed by hand.
    """

    def decorate(handler: Callable[[], None]) -> Callable[[], Response]:
        @wraps(handler)
        def wrapper() -> Response:
            try:
                handler()
                session().commit()
            except Exception:
                session().rollback()
                log.exception("callback %s failed; parameters: %s", request.path, request.form.to_dict())
            return answer()

        return wrapper

    return decorate
