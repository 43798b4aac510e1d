"""Builders for the campaign and do-not-call tests: campaigns on the sample site, CSV text, calls made."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.campaigns.importer import ImportReport, import_contacts
from ivr.campaigns.service import create_campaign
from ivr.models import Attempt, Call, Campaign, Contact

from .conftest import OPEN

CALLER_ID = "+15125550100"


def new_campaign(app: Flask, session: Session, name: str = "Reminders", **settings: Any) -> Campaign:
    """A draft campaign on the published sample site (flow main, caller ID +15125550100)."""
    published = app.extensions["ivr.flows"].current()
    data = {"name": name, "flow": "main", "caller_id": CALLER_ID} | settings
    campaign = create_campaign(session, data, published.site, OPEN)
    session.commit()
    return campaign


def load(session: Session, campaign: Campaign, text: str, region: str | None = None) -> ImportReport:
    """Import CSV text into the campaign and commit."""
    report = import_contacts(session, campaign, io.StringIO(text, newline=""), OPEN, region)
    session.commit()
    return report


def contacts(session: Session, campaign: Campaign) -> dict[str, Contact]:
    """The campaign's contacts by phone, read fresh."""
    session.expire_all()
    rows = session.scalars(select(Contact).where(Contact.campaign_id == campaign.id))
    return {c.phone: c for c in rows}


def attempt(
    session: Session,
    campaign: Campaign,
    contact: Contact,
    status: str,
    answered_by: str | None = None,
    *,
    queue: tuple[str, int | None] | None = None,
    ended: datetime = OPEN,
) -> Attempt:
    """An attempt as the dialer leaves it, with the outbound call's row (QueueResult, QueueTime) if given."""
    number = 1 + len(session.scalars(select(Attempt.id).where(Attempt.contact_id == contact.id)).all())
    sid = f"CA{contact.id:08d}{number:024d}"
    made = Attempt(
        campaign_id=campaign.id,
        contact_id=contact.id,
        number=number,
        created_at=ended - timedelta(minutes=1),
        requested_at=None if status == "pending" else ended - timedelta(minutes=1),
        call_sid=None if status == "pending" else sid,
        status=status,
        answered_by=answered_by,
        ended_at=ended,
    )
    session.add(made)
    if queue is not None:
        result, queue_time = queue
        session.add(
            Call(
                call_sid=sid,
                direction="outbound-api",
                from_number=CALLER_ID,
                to_number=contact.phone,
                status="completed",
                desk=campaign.desk,
                queue_result=result,
                queue_time=queue_time,
                started_at=ended - timedelta(minutes=1),
            )
        )
    session.commit()
    return made
