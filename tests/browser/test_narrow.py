"""No page scrolls sideways at a phone's width (390 px) or a laptop's (1366 px); the header stays in view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.models import Call, Campaign
from ivr.sim import VirtualClock
from ivr.sim.profile import load_profile
from ivr.sim.runner import run_profile

from ..campaign_helpers import load, new_campaign
from ..conftest import ROOT
from .conftest import NARROW, WIDTHS, OpenAt, in_view, sideways_scroll, too_wide

# Every page a person reaches, as (who: ops, partner, admin or None for signed out, path). A path may name
# {call} (a caller's call an agent answered), {agent_call} (that agent's leg), {campaign}. Add pages here.
PAGES = [
    (None, "/login"),
    (None, "/nosuch"),
    ("ops", "/"),
    ("ops", "/?per_page=200"),
    ("ops", "/?legs=all&sort=-wait&tz=utc"),
    ("ops", "/?desk=nosuch"),
    ("ops", "/live"),
    ("ops", "/calls/{call}"),
    ("ops", "/calls/{agent_call}"),
    ("ops", "/reports/compare?since=2026-11-20&until=2026-11-24"),
    ("ops", "/reports/compare?since=2026-11-20&until=2026-11-24&mode=randomised"),
    ("ops", "/campaigns/"),
    ("ops", "/campaigns/{campaign}"),
    ("ops", "/nosuch"),
    ("ops", "/campaigns/999999"),
    ("ops", "/calls.csv?since=someday"),
    ("partner", "/"),
    ("partner", "/campaigns/"),
    ("partner", "/live"),
    ("admin", "/audit"),
    ("admin", "/accounts"),
]
LONG_NAME = "Winter flu-vaccination reminders for the whole north-west region"
QUESTION = f"Cancel campaign {LONG_NAME}? No more calls will be placed, and it cannot be started again."
CONTACTS = "phone,name\n+15125550123,Ann\n+15125550124,Bob\n"


@pytest.fixture
def floor(app: Flask, env: dict[str, str], session: Session) -> dict[str, str]:
    """A simulated morning of the sample profile, and a campaign with a long name: what the pages show."""
    profile = load_profile(ROOT / "profiles" / "acme.json")
    run_profile(
        profile, 40, 1, VirtualClock(datetime(2026, 11, 23, 15, tzinfo=UTC)), None, 7, lambda _n: None
    )
    campaign = new_campaign(app, session, LONG_NAME)
    load(session, campaign, CONTACTS)
    answered = session.scalars(
        select(Call).where(Call.role == "caller", Call.peer_call_sid.is_not(None)).order_by(Call.id)
    ).first()
    assert answered is not None and answered.peer_call_sid is not None
    return {"call": answered.call_sid, "agent_call": answered.peer_call_sid, "campaign": str(campaign.id)}


def test_no_page_scrolls_sideways_and_the_header_stays(open_at: OpenAt, floor: dict[str, str]) -> None:
    pages = {who: open_at(WIDTHS[0], who) for who in ("ops", "partner", "admin", None)}
    problems = []
    for width in WIDTHS:
        for who, path in PAGES:
            page = pages[who]
            page.set_viewport_size({"width": width, "height": 800})
            url = path.format(**floor)
            response = page.goto(url)
            assert response is not None and response.status < 500, url
            where = f"{url} as {who or 'signed out'} at {width} px"
            if sideways_scroll(page) > 0:
                problems.append(f"{where}: {sideways_scroll(page)} px too wide: {too_wide(page)}")
            if not in_view(page, "header .brand"):
                problems.append(f"{where}: the header is not in view")
            if who is not None and not in_view(page, "header button:text('Sign out')"):
                problems.append(f"{where}: Sign out is off screen")
    assert problems == []


def test_a_table_becomes_cards_on_a_phone(app: Flask, session: Session, open_at: OpenAt) -> None:
    load(session, new_campaign(app, session, LONG_NAME), CONTACTS)
    page = open_at(NARROW, "ops")
    page.goto("/campaigns/")
    cell = page.locator("table.campaigns tbody td[data-label=State]").first
    assert page.locator("table.campaigns thead").bounding_box()["height"] <= 1  # headings are the labels
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"State"'
    assert in_view(page, "table.campaigns tbody tr >> nth=0")


def _state(session: Session, campaign_id: int) -> str:
    session.expire_all()
    found = session.get(Campaign, campaign_id)
    assert found is not None
    return found.state


def test_cancelling_a_campaign_asks_first(app: Flask, session: Session, open_at: OpenAt) -> None:
    campaign = new_campaign(app, session, LONG_NAME)
    load(session, campaign, CONTACTS)
    page = open_at(NARROW, "supervisor")  # ops may not change campaigns
    page.goto(f"/campaigns/{campaign.id}")
    asked: list[str] = []

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Cancel").click()
    assert asked == [
        f"Cancel campaign {LONG_NAME}? No more calls will be placed, and it cannot be started again."
    ]
    # Dismissed: nothing was sent. Starting it next proves it (a cancelled campaign cannot start).
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(f"**/campaigns/{campaign.id}")
    assert page.get_by_role("alert").inner_text() == f"Campaign {LONG_NAME} is running now."
    assert _state(session, campaign.id) == "running"

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text(f"Campaign {LONG_NAME} is cancelled now.").wait_for()
    assert len(asked) == 2
    assert _state(session, campaign.id) == "cancelled"
    assert page.get_by_role("button", name="Cancel").count() == 0
