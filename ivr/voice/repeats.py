"""Repeated webhooks (same I-Twilio-Idempotency-Token, a second /voice/incoming of a call) get the answer
kept the first time, the step never running twice: one indexed lookup (docs/call-log.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import Request, Response, g, request
from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..calls import steps
from ..db import database, utcnow
from ..models import WebhookAnswer

TOKEN_HEADER = "I-Twilio-Idempotency-Token"
_KEPT = "repeat_kept"  # g: this request's answer is kept already (or in the session's transaction)


def repeat_key() -> str | None:
    """This request's key: the first incoming request of a call, else Twilio's idempotency token."""
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    if req.endpoint == "voice.flow.incoming":
        return "incoming:" + req.form["CallSid"]
    token = req.headers.get(TOKEN_HEADER, "").strip()
    if not token:
        return None
    if len(token) > 90:
        token = hashlib.sha256(token.encode()).hexdigest()
    return "token:" + token


def kept_answer(key: str | None, s: Session | None = None) -> Response | None:
    """The answer kept for this key, if the request is a repeat: read on the webhook's held connection, or
    in session `s` (the journal's replay)."""
    if key is None:
        return None
    if s is not None:
        row = s.connection().execute(steps.KEPT, {"key": key}).first()
        kept = steps.Kept(*row) if row is not None else None
    else:
        db = database()
        kept = steps.for_dialect(db.engine.dialect.name).kept(db.webhook_connection(), key)
    return kept_response(kept) if kept is not None else None


def kept_response(kept: steps.Kept) -> Response:
    """The kept answer, answered again (and not kept a second time)."""
    mark_kept()
    return Response(kept.body, status=kept.status, content_type=kept.content_type)


def mark_kept() -> None:
    """This request's answer is kept (a step write kept it, or it is the kept one)."""
    g.setdefault(_KEPT, True)


def answer_row(key: str | None, response: Response) -> steps.Answer | None:
    """What is kept of `response` under `key` (None: nothing to keep)."""
    if key is None:
        return None
    return steps.Answer(
        key=key,
        call_sid=request.form["CallSid"],
        answered_at=utcnow(),  # the wall clock: pruning goes by it
        status=response.status_code,
        content_type=response.content_type or "text/xml",
        body=response.get_data(as_text=True),
    )


def _add(s: Session, key: str, response: Response) -> None:
    row = answer_row(key, response)
    assert row is not None
    steps.KEEP.execute(s, row.row())


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
    row = answer_row(key, response)
    assert row is not None
    connection = database().webhook_connection()
    steps.KEEP.execute(connection, row.row())
    connection.commit()
    mark_kept()


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
