"""A status callback of a call ivr placed, on PostgreSQL: one read of its attempt, then one statement that
applies the status to the call log (ivr.calls.steps) and moves the attempt, its contact and its campaign
on as `attempts.on_status` does (docs/dialer.md, "Status callbacks")."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Boolean, Table, TextClause, bindparam, or_, select
from sqlalchemy.engine import Connection, Row

from ..bounds import BIGINT_MAX, whole
from ..calls import steps
from ..engine.params import int_param
from ..models import Attempt, Campaign, Contact
from .lifecycle import FINAL, after_call, moves_on, outcome_of

log = logging.getLogger(__name__)
ATTEMPTS = cast(Table, Attempt.__table__)
CONTACTS = cast(Table, Contact.__table__)
TRIES = 10  # reads and writes while other requests keep changing the attempt in between, at most

# The attempt named by the CallSid, and the one the callback URL's hint names (linked now if it may be).
READ = (
    select(
        Attempt.id,
        Attempt.call_sid,
        Attempt.status,
        Attempt.answered_by,
        Attempt.contact_id,
        Contact.phone,
        Contact.attempts,
        Attempt.campaign_id,
        Campaign.machine_detection,
        Campaign.max_attempts,
        Campaign.retry_seconds,
    )  # fmt: skip
    .join(Contact, Contact.id == Attempt.contact_id)
    .join(Campaign, Campaign.id == Attempt.campaign_id)
    .where(or_(Attempt.call_sid == bindparam("sid"), Attempt.id == bindparam("hint")))
)

# `locked`: the attempt as it was read (else another request changed it since: nothing is written, and
# it is read again), locked for the statement. `gate` lets the call log's part through when no attempt
# is named (the second run, after another request logged the call meanwhile).
_BEFORE = """locked AS (
  SELECT id FROM attempts WHERE id = :attempt_id AND call_sid IS NOT DISTINCT FROM :was_sid
    AND status = :was_status AND answered_by IS NOT DISTINCT FROM :was_answered_by FOR UPDATE),
gate AS (SELECT id FROM locked UNION ALL SELECT NULL WHERE CAST(:attempt_id AS BIGINT) IS NULL)"""
# The attempt linked, its answered_by kept, its status moved on; a final status settles the contact and
# may finish the campaign (attempts.settle and finish_if_done, in SQL).
_AFTER = """,
moved_on AS (
  UPDATE attempts SET call_sid = :call_sid, answered_by = :attempt_answered_by, status = :attempt_status,
    duration = CASE WHEN :settles THEN :attempt_duration ELSE duration END,
    ended_at = CASE WHEN :settles THEN :at ELSE ended_at END
  WHERE id IN (SELECT id FROM locked) AND :changes AND EXISTS (SELECT 1 FROM go) RETURNING id),
settled AS (
  UPDATE contacts SET
    state = CASE WHEN k.state = 'cancelled' AND :contact_state = 'pending' THEN 'cancelled'
      ELSE :contact_state END,
    next_attempt_at = :next_attempt_at, last_outcome = :outcome, last_error = NULL
  FROM campaigns k
  WHERE contacts.id = :contact_id AND contacts.state = 'dialling' AND k.id = :campaign_id AND :settles
    AND EXISTS (SELECT 1 FROM moved_on)
  RETURNING contacts.id, contacts.state),
finished AS (
  UPDATE campaigns SET state = 'finished', updated_at = :at
  WHERE id = :campaign_id AND state IN ('running', 'paused') AND :settles AND EXISTS (SELECT 1 FROM moved_on)
    AND NOT EXISTS (SELECT 1 FROM settled WHERE state IN ('pending', 'dialling'))
    AND NOT EXISTS (
      SELECT 1 FROM contacts WHERE campaign_id = :campaign_id AND state IN ('pending', 'dialling')
      AND id NOT IN (SELECT id FROM settled)))"""


@cache
def statement() -> TextClause:
    """The status's statement with its attempt's part (`steps.status_statement`)."""
    sql = steps.status_statement(_BEFORE, "gate", _AFTER, "(SELECT count(*) FROM gate) AS current")
    return sql.bindparams(
        bindparam("attempt_answered_by", type_=ATTEMPTS.c.answered_by.type),
        bindparam("attempt_duration", type_=ATTEMPTS.c.duration.type),
        bindparam("next_attempt_at", type_=CONTACTS.c.next_attempt_at.type),
        bindparam("settles", type_=Boolean()),
        bindparam("changes", type_=Boolean()),
    )


def _attempt(connection: Connection, sid: str, hint: str | None, to: str | None) -> Row[Any] | None:
    """The attempt of a call: by its CallSid, else the hint's if it is the callee's and not another call's
    (as `attempts.attempt_for`, which links it: here the statement does)."""
    number = whole(hint, most=BIGINT_MAX)
    rows = connection.execute(READ, {"sid": sid, "hint": number}).all()
    connection.commit()
    found = next((row for row in rows if row.call_sid == sid), None)
    if found is not None or number is None:
        return found
    hinted = next((row for row in rows if row.id == number), None)
    if hinted is None or hinted.call_sid is not None:
        return None
    if hinted.phone != (to or ""):
        log.warning("call %s names attempt %s of another number: ignored", sid, number)
        return None
    return hinted


def _attempt_values(attempt: Row[Any], params: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """What the status does to the attempt as read, and to its contact when it settles it."""
    status = params.get("CallStatus", "")
    answered_by = attempt.answered_by or (params.get("AnsweredBy") or "")[:32] or None
    moved = moves_on(attempt.status, status)
    settles = moved and status in FINAL
    changes = (attempt.call_sid, attempt.answered_by, attempt.status) != (
        params["CallSid"],
        answered_by,
        status if moved else attempt.status,
    )
    values: dict[str, Any] = {
        "changes": changes,
        "attempt_id": attempt.id,
        "was_sid": attempt.call_sid,
        "was_status": attempt.status,
        "was_answered_by": attempt.answered_by,
        "attempt_answered_by": answered_by,
        "attempt_status": status if moved else attempt.status,
        "attempt_duration": int_param(params.get("CallDuration")),
        "settles": settles,
        "contact_id": attempt.contact_id,
        "campaign_id": attempt.campaign_id,
        "contact_state": None,
        "next_attempt_at": None,
        "outcome": None,
    }
    if settles:
        outcome = outcome_of(status, answered_by)
        after = after_call(
            outcome,
            machine_detection=attempt.machine_detection,
            attempts=attempt.attempts,
            max_attempts=attempt.max_attempts,
            retry_seconds=attempt.retry_seconds,
            now=now,
        )
        values |= {"contact_state": after.state, "next_attempt_at": after.next_attempt_at, "outcome": outcome}
    return values


def apply(
    connection: Connection,
    params: Mapping[str, str],
    hint: str | None,
    now: datetime,
    answer: steps.Answer | None,
) -> bool:
    """A status callback of a placed call applied once with its attempt's move, its answer kept; False when
    it is a repeat. Without an attempt it is an ordinary status callback (`steps.Steps.status`)."""
    store = steps.for_dialect(connection.dialect.name)
    status = steps.status_values(params, now, answer)
    for _ in range(TRIES):
        attempt = _attempt(connection, params["CallSid"], hint, params.get("To"))
        if attempt is None:
            return store.status(connection, params, now, answer)
        values = status | _attempt_values(attempt, params, now)
        applied, row = steps.logged_once(connection, statement(), values, {"attempt_id": None})
        if row.current:
            return applied
    raise RuntimeError(f"the attempt of call {params['CallSid']} kept changing while its status was applied")
