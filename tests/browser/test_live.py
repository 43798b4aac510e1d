"""The wallboard in a browser: it refreshes itself in place (no page reload) when a caller joins a queue,
and a partner's board shows only their desk."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..twilio import CallDriver, TwilioClient, one

WAITING = '[data-desk="local"] [data-field="now.waiting"]'
OFFERED = '[data-desk="local"] [data-field="today.offered"]'


def test_the_board_updates_in_place_when_a_caller_starts_waiting(
    ops_page: Page, twilio: TwilioClient
) -> None:
    ops_page.goto("/live")
    assert ops_page.locator(WAITING).inner_text().strip() == "0"
    assert ops_page.locator(OFFERED).inner_text().strip() == "0"
    ops_page.evaluate("window.notReloaded = true")
    caller = CallDriver(twilio, caller="+14155550177")
    root = caller.start()
    for digit in ("1", "2"):  # English, technical support: the local desk's queue
        root = caller.press(root, digit)
    assert one(root, "/Response/Enqueue/text()") == "local-desk"
    # expect() polls from Playwright's side: a predicate string would be eval'd in the page, which the
    # pages' Content-Security-Policy (script-src 'self') refuses
    expect(ops_page.locator(WAITING)).to_have_text("1", timeout=15_000)
    assert ops_page.locator(OFFERED).inner_text().strip() == "1"
    assert ops_page.evaluate("window.notReloaded") is True  # refreshed in place, not reloaded


def test_a_partner_board_shows_only_their_desk(partner_page: Page) -> None:
    partner_page.goto("/live")
    assert partner_page.locator("[data-desk]").evaluate_all("els => els.map(e => e.dataset.desk)") == ["bpo"]
