"""Signing in and out in a real browser, at a phone's width and a laptop's."""

from __future__ import annotations

import pytest

from .conftest import WIDTHS, OpenAt


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_then_sign_out(open_at: OpenAt, width: int) -> None:
    page = open_at(width, "ops")
    assert page.url.endswith("/")
    sign_out = page.get_by_role("button", name="Sign out")
    assert sign_out.is_visible()
    sign_out.click()
    page.wait_for_url("**/login")
    assert page.get_by_role("heading", name="Sign in").is_visible()
