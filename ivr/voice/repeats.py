"""Repeated webhooks (same I-Twilio-Idempotency-Token, a second /voice/incoming of a call) get the answer
kept the first time, the step never running twice: one indexed lookup (docs/call-log.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import cast

from flask import Response, g, request
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from ..db import insert_ignoring_conflicts, session, utcnow
from ..models import WebhookAnswer

ANSWERS = cast(Table, WebhookAnswer.__table__)
TOKEN_HEADER = "I-Twilio-Idempotency-Token"
FIND = select(ANSWERS.c.status, ANSWERS.c.content_type, ANSWERS.c.body).where(
    ANSWERS.c.key == bindparam("key")
)
_KEPT = "repeat_kept"  # g: this request's answer is in the session already


def repeat_key() -> str | None:
    """This request's key: the first incoming request of a call, else Twilio's idempotency token."""
    if request.endpoint == "voice.flow.incoming":
        return "incoming:" + request.form["CallSid"]
    token = request.headers.get(TOKEN_HEADER, "").strip()
    if not token:
        return None
    if len(token) > 90:
        token = hashlib.sha256(token.encode()).hexdigest()
    return "token:" + token


def kept_answer(key: str | None) -> Response | None:
    """The answer kept for this key, if the request is a repeat."""
    if key is None:
        return None
    row = session().connection().execute(FIND, {"key": key}).first()
    if row is None:
        return None
    return Response(row.body, status=row.status, content_type=row.content_type)


def _add(s: Session, key: str, response: Response) -> None:
    values = {
        "key": key,
        "call_sid": request.form["CallSid"],
        "answered_at": utcnow(),  # the wall clock: pruning goes by it
        "status": response.status_code,
        "content_type": response.content_type or "text/xml",
        "body": response.get_data(as_text=True),
    }
    s.connection().execute(insert_ignoring_conflicts(s, ANSWERS).values(values))


def commit_with_answer(s: Session, response: Response) -> Response:
    """Commit the step together with its answer (kept under this request's key): the one transaction."""
    key = g.get("repeat_key")
    if key is not None:
        _add(s, key, response)
        g.setdefault(_KEPT, True)
    s.commit()
    return response


def keep(key: str | None, response: Response) -> None:
    """Keep the answer of a handler that committed without it (in a transaction of its own)."""
    if key is None or g.get(_KEPT):
        return
    s = session()
    keep_in_session(s, key, response)
    s.commit()


def keep_in_session(s: Session, key: str | None, response: Response) -> None:
    """Add the answer to the session's transaction (the caller commits), once per request."""
    if key is None or g.get(_KEPT):
        return
    _add(s, key, response)
    g.setdefault(_KEPT, True)


def prune(s: Session, older_than: timedelta, now: datetime) -> int:
    """Forget answers kept longer than `older_than`; how many (the caller commits)."""
    result = s.execute(delete(WebhookAnswer).where(WebhookAnswer.answered_at < now - older_than))
    return int(getattr(result, "rowcount", 0) or 0)
