"""The supervisors' workspace in Chromium on the real pages, the editor's script running: a supervisor
breaks main.json by typing in the editor, sees the problem on its node without submitting, follows the
problem's link to the node, fixes it, tries a call on the keypad and sees the path lit on the graph, publishes
with a note and finds it in the history; an ops user gets no editor and no publish. Any page error or CSP
refusal fails the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, expect

from .conftest import WIDE, sign_in

EDITOR = "/flows/edit/main.json"
ADDED = " Welcome to the new line."
MONDAY_MORNING = "2026-12-07T10:30"  # the support desk's hours (site time)
# A caller pressing 1 (English) then 2 (technical support) on the sample main.json, open hours.
TO_SUPPORT = ["greeting", "open_check", "language", "main_menu", "to_support", "language_desk", "queue"]
# Opened by a CSP refusal in Chromium's console, whatever the directive.
CSP_REFUSAL = "Content Security Policy"
FAVICON = "/favicon.ico"
# The status of a JSON POST to a path, sent by the page as the editor's script sends it.
POST_STATUS = """async (path) => (await fetch(path, {
  method: "POST",
  headers: {"Content-Type": "application/json",
            "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content},
  body: JSON.stringify({document: "main.json", text: "{}", inputs: []}),
})).status"""


@dataclass
class Opened:
    """A signed-in page, what went wrong in it, and the forms it posted."""

    page: Page
    errors: list[str] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)


Open = Callable[[str], Opened]


@pytest.fixture
def as_user(
    browser: Browser, live_server: str, users: dict[str, str | None], published: int
) -> Iterator[Open]:
    """as_user(name): a page signed in as `name` (= role), the editor's script on; page errors, console
    errors (CSP refusals among them) and form posts are recorded; the test fails on any error left."""
    contexts: list[BrowserContext] = []
    opened: list[Opened] = []

    def open_page(name: str) -> Opened:
        context = browser.new_context(viewport={"width": WIDE, "height": 900}, base_url=live_server)
        contexts.append(context)
        page = context.new_page()
        result = Opened(page)
        page.on("pageerror", lambda error: result.errors.append(f"page error: {error}"))
        page.on("console", lambda message: _console(result, message))
        page.on("request", lambda request: _posted(result, request))
        sign_in(page, name)
        result.posted.clear()  # the sign-in form's
        opened.append(result)
        return result

    yield open_page
    errors = [error for each in opened for error in each.errors]
    for context in contexts:
        context.close()
    assert errors == []


def _console(opened: Opened, message: ConsoleMessage) -> None:
    if message.location.get("url", "").endswith(FAVICON):
        return  # Chromium asks every site for one; the app has none
    if message.type == "error" or CSP_REFUSAL in message.text:
        opened.errors.append(f"console {message.type}: {message.text} ({message.location.get('url')})")


def _posted(opened: Opened, request: Request) -> None:
    if request.method == "POST" and request.resource_type == "document":
        opened.posted.append(request.url)


def open_editor(opened: Opened) -> Page:
    """The editor of main.json reached from the nav, enhanced by the script."""
    page = opened.page
    page.get_by_role("link", name="Flows").click()
    page.get_by_role("link", name="main.json").click()
    page.wait_for_url(f"**{EDITOR}")
    expect(page.locator("#workspace .cm-editor")).to_be_visible()
    expect(page.locator("#graph svg g[data-node]").first).to_be_visible()
    return page


def put_cursor_before_end(page: Page, line: str, back: int) -> None:
    """Click the editor's line reading `line`, then move `back` characters left of its end."""
    page.locator(".cm-content .cm-line").filter(has_text=line).first.click()
    page.keyboard.press("End")
    for _ in range(back):
        page.keyboard.press("ArrowLeft")


def retype_value(page: Page, old: str, new: str) -> None:
    """On the line where the cursor is, replace the string value `old` (the line's last) by typing `new`."""
    page.keyboard.press("End")
    line = page.locator(".cm-activeLine").inner_text()
    page.keyboard.press("ArrowLeft")  # before the closing quote (and the comma, when there is one)
    if line.rstrip().endswith(","):
        page.keyboard.press("ArrowLeft")
    for _ in old:
        page.keyboard.press("Backspace")
    page.keyboard.type(new)


def cursor_line(page: Page) -> str:
    """The text of the editor's line with the cursor."""
    return page.locator(".cm-activeLine").inner_text().strip()


def classes(page: Page, node: str) -> list[str]:
    """The classes of a node of the graph."""
    return (page.locator(f'#graph g[data-node="{node}"]').get_attribute("class") or "").split()


def test_a_supervisor_breaks_fixes_tries_and_publishes_in_the_editor(as_user: Open, published: int) -> None:
    opened = as_user("supervisor")
    page = open_editor(opened)
    problems = page.locator("#problems li.problem")
    expect(problems).to_have_count(0)
    assert "problem" not in classes(page, "greeting")

    # break: greeting's next names a node that does not exist, typed into CodeMirror
    put_cursor_before_end(page, '"next": "open_check"', 0)
    retype_value(page, "open_check", "nowhere")
    assert '"next": "nowhere"' in page.locator("#source").input_value()  # the form's text follows

    # the check endpoint lists it with its node and field, nothing submitted
    link = page.locator("#problems li.problem.error a[data-node='greeting'][data-field='next']")
    expect(link).to_be_visible()
    expect(link).to_contain_text("nowhere")
    expect(link).to_contain_text("node greeting, field next")
    assert opened.posted == [] and page.url.endswith(EDITOR)
    # the errors first, as the page itself lists them, before the warnings the break causes
    expect(problems.nth(2)).to_have_class("problem warning")
    severities = problems.evaluate_all("items => items.map(item => item.className)")
    assert severities == sorted(severities), severities  # "problem error" < "problem warning"

    # the node is marked on the graph
    expect(page.locator('#graph g[data-node="greeting"].problem')).to_have_count(1)
    assert "problem" not in classes(page, "open_check")

    # the problem's link takes the cursor to the node's field
    page.locator(".cm-content").press("Control+End")  # the cursor elsewhere first
    link.click()
    expect(page.locator(".cm-activeLine")).to_have_text('"next": "nowhere"', use_inner_text=True)
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")

    # fix it where the cursor is, and reword the greeting
    retype_value(page, "nowhere", "open_check")
    put_cursor_before_end(page, "Calls may be recorded for quality.", 2)
    page.keyboard.type(ADDED)
    expect(problems).to_have_count(0)
    expect(page.locator("#graph g[data-node].problem")).to_have_count(0)

    # try a call on the draft: English, then technical support, in open hours
    panel = page.locator("#try")
    panel.get_by_label("Time of day (site time; empty: now)").fill(MONDAY_MORNING)
    panel.get_by_role("button", name="Call").click()
    expect(panel.locator(".try-status")).to_have_text("Waiting for key presses or a spoken answer.")
    events = panel.locator(".try-events")
    expect(events.locator("li.who-ivr").first).to_contain_text(ADDED.strip())  # the draft, not the published
    keypad = panel.get_by_role("group", name="Keypad")
    keypad.get_by_role("button", name="1").click()
    expect(events.locator("li.who-caller")).to_have_count(1)
    expect(panel.locator(".try-status")).to_have_text("Waiting for key presses or a spoken answer.")
    keypad.get_by_role("button", name="2").click()
    expect(panel.locator(".try-status")).to_have_text("The call has ended.")
    assert events.locator("li.who-caller .what").all_inner_texts() == ["presses 1", "presses 2"]
    expect(events).to_contain_text("the caller reaches desk local")
    expect(page.locator("#graph g[data-node].visited")).to_have_count(len(TO_SUPPORT))
    lit = page.locator("#graph g[data-node].visited").evaluate_all("els => els.map(e => e.dataset.node)")
    assert sorted(lit) == sorted(TO_SUPPORT)
    assert "visited" not in classes(page, "to_billing")
    assert opened.posted == []

    # publish with a note: the history shows the new version with it
    page.get_by_label("Note").fill("A warmer greeting, typed in the editor")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/flows/history")
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    newest = rows.first
    assert int(newest.get_attribute("data-version") or 0) > published
    expect(newest.locator("td.note")).to_have_text("A warmer greeting, typed in the editor")
    expect(newest.locator("td.summary")).to_contain_text("greeting")
    expect(newest).to_contain_text("supervisor")

    # what was published is the editor's text
    newest.locator("td").first.get_by_role("link").click()
    page.goto(page.url.replace("site.json", "main.json"))
    expect(page.locator("pre#source")).to_contain_text('"next": "open_check"')
    expect(page.locator("pre#source")).to_contain_text(ADDED.strip())


def test_an_ops_user_gets_no_editor_and_no_publish(as_user: Open, published: int) -> None:
    opened = as_user("ops")
    page = opened.page
    page.get_by_role("link", name="Flows").click()
    expect(page.locator("table.documents tr[data-document='main.json']")).to_be_visible()
    page.get_by_role("link", name="main.json").click()
    expect(page.locator("pre#source")).to_contain_text('"name": "main"')
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(page.locator(".cm-editor")).to_have_count(0)

    response = page.goto(EDITOR)
    assert response is not None and response.status == 403
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(page.locator("#workspace, .cm-editor, #try")).to_have_count(0)
    # the editor's endpoints refuse ops too, asked from the signed-in page
    for path in ("/flows/check/main.json", "/flows/try"):
        status = page.evaluate(POST_STATUS, path)
        assert status == 403, path
    page.goto("/flows/history")
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    expect(page.locator("form.rollback")).to_have_count(0)
    # Chromium logs the refusals above (403) as console errors; nothing else may have gone wrong
    opened.errors[:] = [error for error in opened.errors if "status of 403" not in error]


def test_the_keypad_sends_an_account_number_to_a_gather_of_the_real_flow(as_user: Open) -> None:
    opened = as_user("supervisor")
    page = open_editor(opened)
    panel = page.locator("#try")
    panel.get_by_label("Time of day (site time; empty: now)").fill(MONDAY_MORNING)
    panel.get_by_role("button", name="Call").click()
    keypad = panel.get_by_role("group", name="Keypad")
    events = panel.locator(".try-events")
    for menu_key, heard in (("1", "To check an order, press 3."), ("3", "Please enter your account number")):
        expect(panel.locator(".try-status")).to_contain_text("Waiting for key presses")
        keypad.get_by_role("button", name=menu_key).click()
        expect(events.locator("li.who-ivr").last).to_contain_text(heard)
    for key in "123456":
        keypad.get_by_role("button", name=key).click()
    expect(panel.locator(".try-typed")).to_have_text("Typed: 123456")
    keypad.get_by_role("button", name="#").click()
    expect(panel.locator(".try-status")).to_have_text("The call has ended.")
    assert events.locator("li.who-caller .what").all_inner_texts() == [
        "presses 1",
        "presses 3",
        "presses 123456",
    ]
    expect(events).to_contain_text("Thank you. Account 1 2 3 4 5 6. Connecting you to our orders team.")
    assert "order_confirm" in page.locator("#graph g[data-node].visited").evaluate_all(
        "els => els.map(e => e.dataset.node)"
    )
