"""A placed call's status callback on PostgreSQL: one read of its attempt, then one statement for the call
log, the attempt, its contact and its campaign, as `attempts.on_status` (docs/dialer.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Boolean, Table, TextClause, bindparam, or_
from sqlalchemy.engine import Connection

from ..bounds import BIGINT_MAX, whole
from ..calls import driver, steps
from ..engine.params import int_param
from ..models import Attempt, Campaign, Contact
from . import attempts
from .lifecycle import FINAL, fate, moves_on

ATTEMPTS = cast(Table, Attempt.__table__)
CONTACTS = cast(Table, Contact.__table__)
TRIES = 10  # reads and writes while other requests keep changing the attempt in between, at most

# The attempt named by the CallSid, and the one the callback URL's hint names (linked now if it may be).
READ = attempts.with_contact_and_campaign(
    Attempt.id, Attempt.call_sid, Attempt.status, Attempt.answered_by, Attempt.contact_id, Contact.phone,
    Contact.attempts, Attempt.campaign_id, Campaign.machine_detection, Campaign.max_attempts,
    Campaign.retry_seconds,
).where(or_(Attempt.call_sid == bindparam("sid"), Attempt.id == bindparam("hint")))  # fmt: skip

# `locked`: the attempt as it was read (else another request changed it since: nothing is written, and
# it is read again), locked for the statement. `gate` lets the call log's part through when no attempt
# is named (the second run, after another request logged the call meanwhile).
_BEFORE = """locked AS (
  SELECT id FROM attempts WHERE id = :attempt_id AND call_sid IS NOT DISTINCT FROM :was_sid
    AND status = :was_status AND answered_by IS NOT DISTINCT FROM :was_answered_by FOR UPDATE),
gate AS (SELECT id FROM locked UNION ALL SELECT NULL WHERE CAST(:attempt_id AS BIGINT) IS NULL)"""
# The attempt linked, its answered_by kept, its status moved on; a final status settles the contact and
# may finish the campaign (attempts.settle and finish_if_done, in SQL). The statement's snapshot is taken
# before it waits for the attempt's lock, so the campaign's state is read with a lock after that wait: a
# share lock gives its newest version (a campaign cancelled meanwhile cancels the contact; a key-share
# lock would not, as cancelling changes no key). `others` counts the campaign's other open contacts as
# the snapshot has them: one that closed during the wait is still open there (`apply` then checks again
# in a statement of its own).
_AFTER = """,
moved_on AS (
  UPDATE attempts SET call_sid = :call_sid, answered_by = :attempt_answered_by, status = :attempt_status,
    duration = CASE WHEN :settles THEN :attempt_duration ELSE duration END,
    ended_at = CASE WHEN :settles THEN :at ELSE ended_at END
  WHERE id IN (SELECT id FROM locked) AND :changes AND EXISTS (SELECT 1 FROM go) RETURNING id),
campaign AS (
  SELECT k.state FROM campaigns k CROSS JOIN locked WHERE k.id = :campaign_id AND :settles
  FOR SHARE OF k),
settled AS (
  UPDATE contacts SET
    state = CASE WHEN (SELECT state FROM campaign) = 'cancelled' AND :contact_state = 'pending'
      THEN 'cancelled' ELSE :contact_state END,
    next_attempt_at = :next_attempt_at, last_outcome = :outcome, last_error = NULL
  WHERE id = :contact_id AND state = 'dialling' AND :settles AND EXISTS (SELECT 1 FROM moved_on)
  RETURNING id, state),
others AS (
  SELECT count(*) AS open, count(*) FILTER (WHERE state = 'pending') AS pending FROM contacts
  WHERE campaign_id = :campaign_id AND state IN ('pending', 'dialling') AND id NOT IN (SELECT id FROM settled)
    AND :settles AND EXISTS (SELECT 1 FROM moved_on)),
finished AS (
  UPDATE campaigns SET state = 'finished', updated_at = :at
  WHERE id = :campaign_id AND state IN ('running', 'paused') AND :settles AND EXISTS (SELECT 1 FROM moved_on)
    AND NOT EXISTS (SELECT 1 FROM settled WHERE state IN ('pending', 'dialling'))
    AND (SELECT open FROM others) = 0
  RETURNING id)"""
_RESULT = """(SELECT count(*) FROM gate) AS current, (SELECT count(*) FROM moved_on) AS moved,
  (SELECT count(*) FROM finished) AS finished, (SELECT open FROM others) AS others_open,
  (SELECT open - pending FROM others) AS others_dialling"""


@cache
def statement() -> TextClause:
    """The status's statement with its attempt's part (`steps.status_statement`)."""
    sql = steps.status_statement(_BEFORE, "gate", _AFTER, _RESULT)
    return sql.bindparams(
        bindparam("attempt_answered_by", type_=ATTEMPTS.c.answered_by.type),
        bindparam("attempt_duration", type_=ATTEMPTS.c.duration.type),
        bindparam("next_attempt_at", type_=CONTACTS.c.next_attempt_at.type),
        bindparam("settles", type_=Boolean()),
        bindparam("changes", type_=Boolean()),
    )


class Read(NamedTuple):
    """An attempt as read, with what its contact's fate needs of the contact and the campaign (READ)."""

    id: int
    call_sid: str | None
    status: str
    answered_by: str | None
    contact_id: int
    phone: str
    attempts: int
    campaign_id: int
    machine_detection: str
    max_attempts: int
    retry_seconds: dict[str, Any]


class Result(NamedTuple):
    """The statement's result after `applied` and `logged` (_RESULT)."""

    current: int
    moved: int
    finished: int
    others_open: int | None
    others_dialling: int | None


def _attempt(run: driver.Runner, sid: str, hint: str | None, to: str | None) -> Read | None:
    """The attempt of a call: by its CallSid, else the hint's if it is the callee's and not another call's
    (as `attempts.attempt_for`, which links it: here the statement does)."""
    number = whole(hint, most=BIGINT_MAX)
    rows = [Read(*row) for row in run.execute(READ, {"sid": sid, "hint": number}).all()]
    run.commit()
    found = next((row for row in rows if row.call_sid == sid), None)
    if found is not None or number is None:
        return found
    hinted = next((row for row in rows if row.id == number), None)
    if hinted is None or hinted.call_sid is not None:
        return None
    return hinted if attempts.of_callee(hinted.phone, to or "", sid, number) else None


def _attempt_values(attempt: Read, params: Mapping[str, str], now: datetime) -> dict[str, Any]:
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
        after = fate(status, answered_by, attempt, attempt.attempts, now)
        values |= {
            "contact_state": after.state,
            "next_attempt_at": after.next_attempt_at,
            "outcome": after.outcome,
        }
    return values


def _may_be_done(values: Mapping[str, Any], row: Result) -> bool:
    """Whether the campaign may have no open contact left though the statement did not finish it: this
    contact closed, and only contacts being dialled were open as the statement began (any of them may
    have closed while it waited for the attempt's lock)."""
    closed = values["settles"] and row.moved and values["contact_state"] != "pending"
    return bool(closed and not row.finished and row.others_open and row.others_open == row.others_dialling)


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
    run = driver.runner(connection)
    status = steps.status_values(params, now, answer)
    for _ in range(TRIES):
        attempt = _attempt(run, params["CallSid"], hint, params.get("To"))
        if attempt is None:
            return store.status(connection, params, now, answer)
        values = status | _attempt_values(attempt, params, now)
        applied, first = steps.logged_once(run, statement(), values, {"attempt_id": None})
        row = Result(*first[2:])
        if not row.current:
            continue
        if _may_be_done(values, row):
            attempts.finish_if_done(run, attempt.campaign_id, now)
            run.commit()
        return applied
    raise RuntimeError(f"the attempt of call {params['CallSid']} kept changing while its status was applied")
