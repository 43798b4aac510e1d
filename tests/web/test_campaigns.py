"""The campaign pages: a list with progress bars, a campaign's figures and state buttons (supervisors and
admins; ops read only, partners not at all)."""

from __future__ import annotations

import re

import pytest
from lxml import html
from sqlalchemy import update

from ivr.accounts.tokens import create_token
from ivr.accounts.users import create_user
from ivr.campaigns.service import change_state
from ivr.models import Campaign, Contact

from ..campaign_helpers import attempt, contacts, load, new_campaign
from ..conftest import OPEN
from ..writes import writes

PASSWORD = "correct horse battery"


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1).decode()


def sign_in(client, session, desk: str | None = None, role: str | None = None):
    create_user(session, "someone", PASSWORD, desk, role)
    session.commit()
    token = _csrf(client.get("/login").data)
    response = client.post("/login", data={"username": "someone", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


@pytest.fixture
def campaign(app, session):
    campaign = new_campaign(app, session, desk="local")
    load(session, campaign, "phone\n+15125550101\n+15125550102\n+15125550103\n+15125550104\n")
    people = contacts(session, campaign)
    attempt(session, campaign, people["+15125550101"], "completed", "human", queue=("bridged", 1))
    people["+15125550101"].state = "done"
    session.commit()
    return campaign


def test_the_list_shows_progress(client, session, campaign) -> None:
    page = html.fromstring(sign_in(client, session).get("/campaigns/").data)
    assert page.xpath("//header//a[text()='Campaigns']/@href") == ["/campaigns/"]
    (row,) = page.xpath("//table[contains(@class, 'campaigns')]/tbody/tr")
    assert row.xpath("td[1]/a/text()") == ["Reminders"]
    assert row.xpath("td[1]/a/@href") == [f"/campaigns/{campaign.id}"]
    assert row.xpath("td[2]/text()") == ["draft"]
    assert row.xpath(".//progress/@value") == ["1"] and row.xpath(".//progress/@max") == ["4"]
    assert row.xpath("td[8]/text()") == ["0.0%"]


def test_a_campaign_page_shows_the_figures_of_the_api(client, session, campaign) -> None:
    signed = sign_in(client, session, role="supervisor")
    page = html.fromstring(signed.get(f"/campaigns/{campaign.id}").data)
    assert page.xpath("//h1/text()")[0].strip() == "Campaign Reminders"
    assert page.xpath("//progress/@value") == ["1"] and page.xpath("//progress/@max") == ["4"]
    shown = {td.get("data-figure"): int(td.text) for td in page.xpath("//td[@data-figure]")}
    token = create_token(session, "tests")
    session.commit()
    api = client.get(f"/api/campaigns/{campaign.id}", headers={"Authorization": f"Bearer {token}"})
    figures = api.json["campaign"]["figures"]
    assert shown == {key: figures[key] for key in shown}
    assert (shown["contacts"], shown["answered_human"], shown["remaining"]) == (4, 1, 3)
    text = page.xpath("//p[contains(@class, 'abandonment')]/text()")[0]
    assert text.startswith("0.0% (0 of 1 human-answered calls") and text.endswith("within the 3% limit")
    assert page.xpath("//div[@class='actions']//button/text()") == ["Start", "Cancel"]


def test_state_buttons_change_the_state(client, session, campaign) -> None:
    signed = sign_in(client, session, role="supervisor")
    page = signed.get(f"/campaigns/{campaign.id}").data
    token = _csrf(page)
    started = signed.post(f"/campaigns/{campaign.id}/start", data={"csrf_token": token})
    assert started.status_code == 302
    page = html.fromstring(signed.get(f"/campaigns/{campaign.id}").data)
    assert page.xpath("//p[@class='flash']/text()") == ["Campaign Reminders is running now."]
    assert page.xpath("//div[@class='actions']//button/text()") == ["Pause", "Cancel"]
    wrong = signed.post(f"/campaigns/{campaign.id}/resume", data={"csrf_token": token})
    page = html.fromstring(signed.get(wrong.headers["Location"]).data)
    assert page.xpath("//p[@class='flash']/text()") == [
        "cannot resume a campaign that is running: only a paused one"
    ]
    assert signed.post(f"/campaigns/{campaign.id}/pause").status_code == 400  # no CSRF token
    assert signed.post(f"/campaigns/{campaign.id}/finish", data={"csrf_token": token}).status_code == 404
    assert signed.get("/campaigns/999").status_code == 404


def test_partners_and_strangers_are_kept_out(client, session, campaign) -> None:
    assert client.get("/campaigns/").status_code == 302  # to the sign-in page
    partner = sign_in(client, session, desk="bpo")
    assert partner.get("/campaigns/").status_code == 403
    assert partner.get(f"/campaigns/{campaign.id}").status_code == 403
    assert html.fromstring(partner.get("/").data).xpath("//header//a[text()='Campaigns']") == []


def test_ops_see_campaigns_but_cannot_change_them(client, session, campaign) -> None:
    signed = sign_in(client, session, role="ops")
    page = html.fromstring(signed.get(f"/campaigns/{campaign.id}").data)
    assert page.xpath("//h1/text()")[0].strip() == "Campaign Reminders"
    assert page.xpath("//div[@class='actions']") == []
    token = _csrf(signed.get("/").data)
    refused = signed.post(f"/campaigns/{campaign.id}/start", data={"csrf_token": token})
    assert refused.status_code == 403
    session.refresh(campaign)
    assert campaign.state == "draft"


def test_the_pages_only_read(app, client, session, campaign) -> None:
    """A campaign with nothing left to call stays as it is: a page view neither commits nor writes."""
    change_state(session, campaign, "start", OPEN)
    session.execute(update(Contact).values(state="done"))  # behind the owner's back: nothing finishes it
    session.commit()
    signed = sign_in(client, session)
    app.extensions["ivr.flows"].current()  # the flows folder is published before the watch starts
    with writes() as seen:
        listed = signed.get("/campaigns/")
        shown = signed.get(f"/campaigns/{campaign.id}")
    assert (listed.status_code, shown.status_code, seen) == (200, 200, [])
    page = html.fromstring(shown.data)
    assert page.xpath("//progress/@value") == ["4"] and page.xpath("//progress/@max") == ["4"]
    session.expire_all()
    assert session.get_one(Campaign, campaign.id).state == "running"


def test_cancelling_asks_on_a_page_unless_confirmed(client, session, campaign) -> None:
    signed = sign_in(client, session, role="supervisor")
    page = html.fromstring(signed.get(f"/campaigns/{campaign.id}").data)
    cancel = page.xpath("//div[@class='actions']//button[text()='Cancel']")[0]
    question = "Cancel campaign Reminders? No more calls will be placed, and it cannot be started again."
    assert cancel.get("data-confirm") == question  # ivr.js asks this in the browser (tests/browser)
    assert page.xpath("//div[@class='actions']//button[text()='Start']/@data-confirm") == []
    token = _csrf(signed.get(f"/campaigns/{campaign.id}").data)

    asked = signed.post(f"/campaigns/{campaign.id}/cancel", data={"csrf_token": token})
    assert asked.status_code == 200  # no confirmation (no script ran): a page asks instead
    shown = html.fromstring(asked.data)
    assert shown.xpath("string(//p[@class='question'])") == question
    form = f"//form[@action='/campaigns/{campaign.id}/cancel']"
    assert shown.xpath(f"{form}//input[@name='confirmed']/@value") == ["yes"]
    assert shown.xpath("//a[text()='No, keep it as it is']/@href") == [f"/campaigns/{campaign.id}"]
    session.refresh(campaign)
    assert campaign.state == "draft"

    done = signed.post(f"/campaigns/{campaign.id}/cancel", data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 302
    session.refresh(campaign)
    assert campaign.state == "cancelled"
