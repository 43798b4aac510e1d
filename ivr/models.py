"""The typed models: published flow versions, the call log, people and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from .db import Base, utcnow

TERMINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    **{s: 4 for s in TERMINAL_STATUSES},
}

BigID = BigInteger().with_variant(Integer(), "sqlite")


class SiteVersion(Base):
    """One published version of the site (site file and all flows); its content never changes.

    The newest id is what new calls start on. A rollback publishes an old version's content again as a new
    version (rolled_back_from), so the same digest may appear more than once.
    """

    __tablename__ = "site_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    bundle: Mapped[dict[str, Any]]
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(500), default="")  # a folder path, "browser", "api", ...
    published_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")  # what changed, one line
    based_on: Mapped[int | None] = mapped_column(Integer)  # the version the editor started from
    rolled_back_from: Mapped[int | None] = mapped_column(Integer)


class FlowDraft(Base):
    """One person's (or token's) unpublished text of one document (site.json or a flow file)."""

    __tablename__ = "flow_drafts"
    __table_args__ = (Index("ux_flow_drafts_owner_document", "owner", "document", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))  # "user:<id>" or "token:<id>"
    document: Mapped[str] = mapped_column(String(120))  # the file name: site.json, main.json, ...
    text: Mapped[str | None] = mapped_column(Text)  # None: the document is to be removed on publish
    based_on: Mapped[int | None] = mapped_column(Integer)  # the published version the draft started from
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One line of the append-only audit log: who did what, when, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # a username, "token:<name>" or "cli:<os user>"
    address: Mapped[str] = mapped_column(String(64), default="")  # the client address, or "cli"
    action: Mapped[str] = mapped_column(String(40), index=True)  # e.g. flows.publish, campaign.start
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Call(Base):
    """One call leg as Twilio reported it, with where it is in its flow and what happened to it."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_desk_started_at", "desk", "started_at"),
        # a caller's calls in order, covering what the repeat-call metric reads (ivr.metrics.sql)
        Index("ix_calls_number_history", "from_number", "started_at", "id", "role", "desk", "queue_result"),
        Index("ix_calls_overflow_from_started_at", "overflow_from", "started_at"),
        Index("ix_calls_updated_at_id", "updated_at", "id"),  # the API's incremental sync, in its order
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    parent_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    account_sid: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    # caller: a person who called in (or was called by a campaign); agent: an agent's leg on the agent line
    role: Mapped[str] = mapped_column(String(16), default="caller", server_default="caller")
    from_number: Mapped[str] = mapped_column(Text, default="")
    to_number: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="ringing")
    status_rank: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    duration: Mapped[int | None] = mapped_column(Integer)
    site_version_id: Mapped[int | None] = mapped_column(ForeignKey("site_versions.id"), index=True)
    flow: Mapped[str | None] = mapped_column(String(64))
    node: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tries: Mapped[dict[str, Any]] = mapped_column(default=dict)
    desk: Mapped[str | None] = mapped_column(String(64))
    overflow_from: Mapped[str | None] = mapped_column(String(64))  # the desk the call overflowed from
    path: Mapped[str | None] = mapped_column(String(255))  # menu choices, "menu:option > menu:option"
    # how the call reached its desk (ivr.engine.nodes): the route strategy, 'split' when a weighted or sticky
    # split between desks chose it (the randomised arm) else 'directed', and the segment of work it is
    route_strategy: Mapped[str | None] = mapped_column(String(16))
    assignment: Mapped[str | None] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(255))
    queued_at: Mapped[datetime | None]  # when the call was last handed to its desk
    peer_call_sid: Mapped[str | None] = mapped_column(String(64), index=True)  # the other leg of a bridge
    queue_time: Mapped[int | None] = mapped_column(Integer)
    queue_result: Mapped[str | None] = mapped_column(String(32))
    talk_time: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(64))
    survey_score: Mapped[int | None] = mapped_column(Integer)
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_duration: Mapped[int | None] = mapped_column(Integer)
    transcription: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # what became of the call (ivr.calls.outcomes): not stored, computed in SQL by the queries that ask for it
    outcome: Mapped[str | None] = query_expression()
    # when the row last changed: every write of ivr.calls.log sets it to the request's time (the API's sync)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan", lazy="raise"
    )


class CallEvent(Base):
    """One entry of a call's append-only timeline (ordered by id)."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    call: Mapped[Call] = relationship(back_populates="events")


class StatusCallback(Base):
    """A status callback already applied, so a retried delivery is recognised and ignored."""

    __tablename__ = "status_callbacks"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person who signs in to the web pages."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    desk: Mapped[str | None] = mapped_column(String(64))  # a partner viewer sees only this desk's calls
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    role: Mapped[str] = mapped_column(String(16), default="ops", server_default="ops")  # accounts.roles
    disabled_at: Mapped[datetime | None]
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # bumped: sign out

    @property
    def is_authenticated(self) -> bool:
        """Flask-Login: a loaded user is signed in."""
        return True

    @property
    def is_active(self) -> bool:
        """Flask-Login: every stored user may sign in."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Flask-Login: stored users are never anonymous."""
        return False

    def get_id(self) -> str:
        """Flask-Login: the id kept in the session cookie."""
        return str(self.id)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    desk: Mapped[str | None] = mapped_column(String(64))  # a partner token sees only this desk's calls
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(16), default="ops", server_default="ops")  # accounts.roles
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Agent(Base):
    """An agent of a desk who takes calls through the agent line; only a hash of the PIN is stored."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(16), unique=True)  # the digits the agent keys in
    desk: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80), default="")
    pin_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # wrong PINs are counted in `throttles` (accounts.throttle); None: not checked since migration 0013
    short_pin: Mapped[bool | None] = mapped_column(Boolean)  # shorter than 6 digits (set with each PIN)
    # a new PIN needed before the next sign-in (ivr agent expire-pin)
    pin_expired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Throttle(Base):
    """Failures counted against one key of one scope (an account, an address, a calling number, an agent),
    and the lock they led to; written only through accounts.throttle, with atomic statements."""

    __tablename__ = "throttles"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "sign_in.account"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # never a secret: usernames, addresses
    failures: Mapped[int] = mapped_column(
        Integer, default=0
    )  # within the window that began at first_failed_at
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]  # FOREVER: until an admin lifts it


CAMPAIGN_STATES = ("draft", "running", "paused", "finished", "cancelled")
CONTACT_STATES = ("pending", "dialling", "done", "failed", "skipped", "cancelled")


class Campaign(Base):
    """An outbound call list: what to run when someone answers, when and how fast to call."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    flow: Mapped[str] = mapped_column(String(64))  # the flow run when a callee answers
    caller_id: Mapped[str] = mapped_column(String(32))  # E.164, a number of the Twilio account
    desk: Mapped[str | None] = mapped_column(String(64))  # the desk that takes connected calls
    window_start: Mapped[str] = mapped_column(String(5), default="08:00")  # in the callee's local time
    window_end: Mapped[str] = mapped_column(String(5), default="21:00")
    default_timezone: Mapped[str | None] = mapped_column(String(64))  # when neither row nor number tells
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)  # outcome -> spacing (busy, ...)
    machine_detection: Mapped[str] = mapped_column(String(16), default="off")  # off, hangup, message
    machine_message: Mapped[str | None] = mapped_column(Text)
    max_cps: Mapped[float] = mapped_column(default=1.0)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=10)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the dialer's pacing at max_cps, shared by every worker: when this campaign's next call may be placed
    next_slot_at: Mapped[datetime | None]


class Contact(Base):
    """One number of a campaign's list, with where it stands: due when, attempts so far, outcome."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("uq_contacts_campaign_phone", "campaign_id", "phone", unique=True),
        Index("ix_contacts_due", "campaign_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))  # E.164
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)  # extra CSV columns, for the flow
    line: Mapped[int | None] = mapped_column(Integer)  # the CSV line it came from (first, when merged)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attempt(Base):
    """One dial of a contact, committed before Twilio is asked, so a crash never dials it twice."""

    __tablename__ = "attempts"
    __table_args__ = (  # AUTOINCREMENT on SQLite: an undone attempt's id is never given to another
        Index("uq_attempts_contact_number", "contact_id", "number", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first attempt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_at: Mapped[datetime | None]  # when the Calls API was asked
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    answered_by: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None]


class DoNotCall(Base):
    """A number never to be dialled by any campaign."""

    __tablename__ = "do_not_call"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)  # E.164
    source: Mapped[str] = mapped_column(String(32), default="manual")  # manual, import, opt-out
    note: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class DialBudget(Base):
    """The calls-per-second budget shared by every dialer worker: the next free slot to place a call."""

    __tablename__ = "dial_budget"

    id: Mapped[int] = mapped_column(primary_key=True)  # one row: 1
    next_slot_at: Mapped[datetime]


class DncRemoval(Base):
    """A number taken off the do-not-call list: the entry as it was, who removed it, when and why."""

    __tablename__ = "do_not_call_removals"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    source: Mapped[str] = mapped_column(String(32))  # the entry's: manual, import, opt-out
    note: Mapped[str] = mapped_column(String(200), default="")  # the entry's
    added_at: Mapped[datetime]  # the entry's
    removed_at: Mapped[datetime] = mapped_column(index=True)
    removed_by: Mapped[str] = mapped_column(String(120))  # an audit actor: username, token:<name>, cli:<user>
    reason: Mapped[str] = mapped_column(String(500))


class WebhookAnswer(Base):
    """A webhook's answer kept under its repeat key, so a repeated request gets it again without the step
    running twice (ivr/voice/repeats.py); pruned after WEBHOOK_ANSWERS_HOURS."""

    __tablename__ = "webhook_answers"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "token:<I-Twilio-Idempotency-Token>"
    call_sid: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)


class JournalReplay(Base):
    """A journal record already replayed into the call log (ivr/voice/journal_replay.py): never twice."""

    __tablename__ = "journal_replays"

    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    replayed_at: Mapped[datetime]
