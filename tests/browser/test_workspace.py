"""The supervisors' workspace in Chromium, with the forms alone (the editor's script blocked, as a browser
without JavaScript would be): break a flow and see the problem on its node, fix it, publish with a note, hear
the new version on a simulated call over HTTP, roll back; an ops user sees flows but cannot publish."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session

from ivr.accounts.users import create_user
from ivr.sim import Caller, SimulatedCall, VirtualClock
from ivr.sim.transport import HttpTransport

from ..conftest import AUTH_TOKEN, OPEN
from .conftest import NARROW, PASSWORD, WIDE, sign_in, too_wide

MAIN_LINE = "+15125550100"
NEW_GREETING = "Welcome to the workspace's new greeting."


@pytest.fixture
def accounts(session: Session, published: int) -> None:
    """A supervisor (sam) and an ops user (olga)."""
    for name, role in (("sam", "supervisor"), ("olga", "ops")):
        create_user(session, name, PASSWORD).role = role
    session.commit()


@pytest.fixture
def as_user(browser: Browser, live_server: str, accounts: None) -> Iterator[object]:
    """as_user(name): a page signed in as `name`, the editor's script blocked (the forms must do)."""
    contexts: list[BrowserContext] = []

    def open_page(name: str, width: int = WIDE) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server)
        context.route("**/static/web/build/**", lambda route: route.abort())
        contexts.append(context)
        page = context.new_page()
        sign_in(page, name)
        return page

    yield open_page
    for context in contexts:
        context.close()


def greeting_heard(live_server: str) -> str:
    """What a caller to the main line hears first, over HTTP through the carrier simulator."""
    call = SimulatedCall(
        HttpTransport(AUTH_TOKEN), live_server, "+15125550123", MAIN_LINE, VirtualClock(OPEN), Caller()
    )
    result = call.run()
    said = [event.what for event in result.events if event.who == "ivr"]
    assert said, [(e.who, e.what) for e in result.events]
    return said[0]


def edit(page: Page, change) -> str:
    """Change main.json's text in the editor's text box; the new text."""
    box = page.locator("textarea#source")
    data = json.loads(box.input_value())
    change(data)
    text = json.dumps(data, indent=2) + "\n"
    box.fill(text)
    return text


def test_a_supervisor_breaks_fixes_publishes_and_rolls_back_a_flow(as_user, live_server, published):
    original_greeting = greeting_heard(live_server)
    page = as_user("sam")
    page.get_by_role("link", name="Flows").click()
    page.get_by_role("link", name="main.json").click()
    expect(page.locator("#workspace[data-document='main.json']")).to_be_visible()

    edit(page, lambda data: data["nodes"]["greeting"].update(next="nowhere"))
    page.get_by_role("button", name="Validate").click()
    problem = page.locator("#problems li.problem.error a[data-node='greeting'][data-field='next']")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("nowhere")

    def fixed(data):
        data["nodes"]["greeting"].update(next="open_check", prompt=NEW_GREETING)

    edit(page, fixed)
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#problems li.problem.error")).to_have_count(0)
    expect(page.locator("p.valid")).to_be_visible()

    page.get_by_label("Note").fill("A warmer greeting")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/flows/history")
    newest = page.locator("table.versions tbody tr").first
    expect(newest.locator("td.note")).to_have_text("A warmer greeting")
    assert greeting_heard(live_server) == f"says: {NEW_GREETING}"

    old = page.locator(f"table.versions tr[data-version='{published}']")
    old.get_by_placeholder("why roll back").fill("Callers missed the old greeting")
    old.get_by_role("button", name=f"Roll back to {published}").click()
    page.wait_for_url("**/flows/history")
    expect(page.locator("table.versions tbody tr").first.locator("td.note")).to_contain_text(
        "Callers missed the old greeting"
    )
    assert greeting_heard(live_server) == original_greeting


def test_an_ops_user_sees_the_flows_but_cannot_publish(as_user, published):
    page = as_user("olga")
    page.get_by_role("link", name="Flows").click()
    expect(page.locator("table.documents tr[data-document='main.json']")).to_be_visible()
    expect(page.locator("a[href^='/flows/edit/']")).to_have_count(0)
    page.get_by_role("link", name="main.json").click()
    expect(page.locator("pre#source")).to_contain_text('"name": "main"')
    page.goto("/flows/history")
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    expect(page.locator("form.rollback")).to_have_count(0)
    response = page.goto("/flows/edit/main.json")
    assert response is not None and response.status == 403


def test_the_workspace_pages_fit_a_phone(as_user, published, session):
    """No page of the workspace makes a phone scroll sideways (wide text scrolls inside its own box)."""
    page = as_user("sam", NARROW)
    page.goto("/flows/edit/main.json")
    edit(page, lambda data: data["nodes"]["greeting"].update(prompt="A prompt for a narrow screen."))
    page.get_by_label("Note").fill("narrow")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/flows/history")
    newest = page.locator("table.versions tbody tr").first.get_attribute("data-version")
    for path in (
        "/flows/",
        "/flows/edit/main.json",
        "/flows/history",
        f"/flows/diff?a={published}&b={newest}&view=split",
        f"/flows/diff?a={published}&b={newest}&view=unified",
        f"/flows/versions/{published}/main.json",
    ):
        page.goto(path)
        assert too_wide(page) == [], path
