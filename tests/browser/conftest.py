"""Browser tests: the app served on a free port, driven by Playwright in Debian's Chromium (one per run)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from ivr.accounts.users import create_user

CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
NARROW = 390  # a phone held upright
WIDE = 1366  # the most common laptop screen
WIDTHS = (NARROW, WIDE)
# The widest the page may be at its width: the scrolling element's width, less the viewport's.
SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, once per session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: `make test` installs Debian's (apt-get install -y chromium, "
            "as root); or set IVR_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the whole session (each test gets fresh contexts)."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    """The test configuration, served over plain HTTP on 127.0.0.1 (no fixed host name)."""
    config.pop("SERVER_NAME")
    config["PREFERRED_URL_SCHEME"] = "http"
    return config


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served in a thread on a free port of 127.0.0.1, on the test database; its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def users(session: Session) -> dict[str, str | None]:
    """Accounts to sign in with, by username (= role): `ops`, `supervisor` and `admin` see every desk,
    `partner` only the bpo desk."""
    accounts: dict[str, str | None] = {"ops": None, "partner": "bpo", "supervisor": None, "admin": None}
    for name, desk in accounts.items():
        create_user(session, name, PASSWORD, desk, name)
    session.commit()
    return accounts


def sign_in(page: Page, username: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


OpenAt = Callable[..., Page]


@pytest.fixture
def open_at(browser: Browser, live_server: str, users: dict[str, str | None]) -> Iterator[OpenAt]:
    """open_at(width, user=None): a new page `width` CSS pixels wide, signed in as `user` if given."""
    contexts: list[BrowserContext] = []

    def open_page(width: int, user: str | None = None) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 800}, base_url=live_server)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            sign_in(page, user)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def ops_page(open_at: OpenAt) -> Page:
    """A page at 1366 px, signed in as ops."""
    return open_at(WIDE, "ops")


@pytest.fixture
def partner_page(open_at: OpenAt) -> Page:
    """A page at 1366 px, signed in as the bpo desk's partner."""
    return open_at(WIDE, "partner")


def in_view(page: Page, selector: str) -> bool:
    """Whether the element is visible and wholly inside the window's width (not off to the right)."""
    element = page.locator(selector)
    box = element.bounding_box() if element.is_visible() else None
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


def sideways_scroll(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0 or less: no sideways scrolling)."""
    return int(page.evaluate(SIDEWAYS_SCROLL))


# The innermost elements whose right edge passes the window's, named tag#id.class: what to fix.
_TOO_WIDE = """() => {
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.getBoundingClientRect().right <= window.innerWidth + 0.5) continue;
    const wide = (child) => child.getBoundingClientRect().right > window.innerWidth + 0.5;
    if ([...el.children].some(wide)) continue;
    let scrolls = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible' && up !== document.documentElement
          && up !== document.body) { scrolls = true; break; }
    }
    if (scrolls) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + [...el.classList].map(c => '.' + c).join('');
    found.push(name + ' ' + Math.round(el.getBoundingClientRect().right) + 'px: '
      + (el.textContent || '').trim().slice(0, 40));
  }
  return found.slice(0, 8);
}"""


def too_wide(page: Page) -> list[str]:
    """The innermost elements reaching past the window's right edge (outside any box that scrolls)."""
    return list(page.evaluate(_TOO_WIDE))


@pytest.fixture
def published(app: Flask) -> int:
    """The sample folder published as the first version; its id."""
    with app.app_context():
        version: int = app.extensions["ivr.flows"].published().id
    return version
