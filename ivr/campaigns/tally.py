"""The SQL counts behind a campaign's figures (ivr.campaigns.figures defines them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..engine.actions import MACHINE_ANSWERS
from ..models import Attempt, Call, Campaign, Contact
from .figures import ABANDON_DAYS, Abandonment, Figures, figures, is_abandoned


def abandonment(session: Session, campaign: Campaign, now: datetime) -> Abandonment:
    """Human-answered calls of the last 30 days that ended, and how many of them were abandoned."""
    if campaign.desk is None:
        return Abandonment(applicable=False)
    since = now - timedelta(days=ABANDON_DAYS)
    query = (
        select(Call.queue_result, Call.queue_time, func.count())
        .select_from(Attempt)
        .outerjoin(Call, Call.call_sid == Attempt.call_sid)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.status == "completed",
            or_(Attempt.answered_by.is_(None), Attempt.answered_by.not_in(sorted(MACHINE_ANSWERS))),
            func.coalesce(Attempt.ended_at, Attempt.created_at) >= since,
        )
        .group_by(Call.queue_result, Call.queue_time)
    )
    answered = abandoned = 0
    for result, queue_time, n in session.execute(query):
        answered += n
        abandoned += n if is_abandoned(result, queue_time) else 0
    return Abandonment(applicable=True, answered=answered, abandoned=abandoned)


def campaign_figures(session: Session, campaign: Campaign, now: datetime) -> Figures:
    """A campaign's figures, counted now."""
    # a contact deferred earlier whose window has opened meanwhile is due, no longer waiting
    outcome = case(
        (and_(Contact.last_outcome == "deferred-window", Contact.next_attempt_at <= now), None),
        else_=Contact.last_outcome,
    )
    contacts = session.execute(
        select(Contact.state, outcome, func.count())
        .where(Contact.campaign_id == campaign.id)
        .group_by(Contact.state, outcome)
    )
    attempts = session.execute(
        select(Attempt.status, Attempt.answered_by, func.count())
        .where(Attempt.campaign_id == campaign.id)
        .group_by(Attempt.status, Attempt.answered_by)
    )
    return figures(
        [(s, o, n) for s, o, n in contacts],
        [(s, a, n) for s, a, n in attempts],
        abandonment(session, campaign, now),
    )
