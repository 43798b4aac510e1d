"""Campaigns in the database: create, find, change state, and show as JSON. Never commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from ..bounds import whole
from ..engine.site import Site
from ..models import Campaign, Contact
from .attempts import finish_if_done
from .figures import Figures
from .rules import CampaignError, CampaignSettings, TransitionError, check_settings, transition

LEFT = ("pending", "dialling")
CAMPAIGNS = cast(Table, Campaign.__table__)  # contact states that still need calls


def find_campaign(session: Session, ref: str | int) -> Campaign:
    """The campaign with this id (digits) or name; LookupError when there is none."""
    text = str(ref).strip()
    number = whole(text)  # digits beyond an id's range are looked up as a name: none is all digits
    found = (
        session.get(Campaign, number)
        if number is not None
        else session.scalars(select(Campaign).where(Campaign.name == text)).first()
    )
    if found is None:
        raise LookupError(f"no campaign {text!r}")
    return found


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())))


def settings_for(data: Mapping[str, Any], site: Site | None) -> CampaignSettings:
    """Checked settings against the published site (None: nothing published); CampaignError otherwise."""
    flows = set(site.flows) if site is not None else None
    desks = set(site.desks) if site is not None else None
    return check_settings(data, flows, desks)


def create_campaign(session: Session, data: Mapping[str, Any], site: Site | None, now: datetime) -> Campaign:
    """A new draft campaign from settings (JSON or command-line values); CampaignError names bad fields."""
    settings = settings_for(data, site)
    if session.scalars(select(Campaign.id).where(Campaign.name == settings.name)).first() is not None:
        raise CampaignError([("name", f"a campaign called {settings.name!r} exists already")])
    campaign = Campaign(**settings.columns(), state="draft", created_at=now, updated_at=now)
    session.add(campaign)
    session.flush()
    return campaign


def flow_variables(site: Site | None, campaign: Campaign) -> tuple[str, ...]:
    """The variables the campaign's flow declares (its contact lists must have those columns)."""
    flow = site.flows.get(campaign.flow) if site is not None else None
    return flow.variables if flow is not None else ()


def contacts_left(session: Session, campaign: Campaign) -> int:
    """Contacts still pending or being dialled."""
    query = select(func.count()).where(Contact.campaign_id == campaign.id, Contact.state.in_(LEFT))
    return int(session.scalar(query) or 0)


def change_state(session: Session, campaign: Campaign, action: str, now: datetime) -> str:
    """Apply start, pause, resume, finish or cancel; returns the new state, or raises TransitionError.

    The row is only changed if it is still in the state read (the dialer may finish it meanwhile).
    Starting needs contacts; finishing needs none left; cancelling marks the pending contacts cancelled
    (calls already placed end normally). A campaign paused or resumed with no contact left is finished.
    """
    target = transition(campaign.state, action)
    if action == "start" and not session.scalar(
        select(func.count()).where(Contact.campaign_id == campaign.id)
    ):
        raise TransitionError(f"campaign {campaign.name!r} has no contacts: import a list first")
    if action == "finish" and contacts_left(session, campaign):
        raise TransitionError(f"campaign {campaign.name!r} still has contacts to call")
    changed = (
        session.connection()
        .execute(
            update(CAMPAIGNS)
            .where(CAMPAIGNS.c.id == campaign.id, CAMPAIGNS.c.state == campaign.state)
            .values(state=target, updated_at=now)
        )
        .rowcount
    )
    if not changed:
        session.refresh(campaign)
        raise TransitionError(f"campaign {campaign.name!r} changed meanwhile: it is {campaign.state} now")
    if target == "cancelled":
        session.execute(
            update(Contact)
            .where(Contact.campaign_id == campaign.id, Contact.state == "pending")
            .values(state="cancelled")
        )
    if target in ("running", "paused") and finish_if_done(session, campaign.id, now):
        target = "finished"
    session.refresh(campaign)
    return target


def campaign_dict(campaign: Campaign, figures: Figures | None = None) -> dict[str, Any]:
    """A campaign's settings and state (and its figures when given) as JSON."""
    out: dict[str, Any] = {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state,
        "flow": campaign.flow,
        "caller_id": campaign.caller_id,
        "desk": campaign.desk,
        "window": f"{campaign.window_start}-{campaign.window_end}",
        "default_timezone": campaign.default_timezone,
        "max_attempts": campaign.max_attempts,
        "retry_seconds": campaign.retry_seconds,
        "machine_detection": campaign.machine_detection,
        "machine_message": campaign.machine_message,
        "max_cps": campaign.max_cps,
        "max_concurrent": campaign.max_concurrent,
        "created_at": campaign.created_at.isoformat(),
        "updated_at": campaign.updated_at.isoformat(),
    }
    if figures is not None:
        out["figures"] = figures.as_dict()
    return out
