"""Browser hardening beyond the pages' own policy: nosniff and a policy that runs nothing on API answers,
SameSite=Lax session cookies, forms that still work after an hour on the page, no links from call data
that are not https."""

from __future__ import annotations

import time

import pytest
from itsdangerous.timed import TimestampSigner
from lxml import html

from ivr.accounts.tokens import create_token

from ..twilio import CallDriver
from .test_web import _csrf


def test_api_answers_are_never_sniffed_nor_run(client, session):
    token = create_token(session, "reports")
    session.commit()
    signed = {"Authorization": f"Bearer {token}"}
    for response in (
        client.get("/api/calls", headers=signed),
        client.get("/api/calls.csv", headers=signed),
        client.get("/api/calls"),  # 401, JSON
        client.get("/api/nothing-here"),  # 404, JSON
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_pages_keep_their_own_policy(ops):
    response = ops.get("/")
    assert response.headers["Content-Security-Policy"].startswith("script-src 'self'")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_same_site_lax(client, session):
    from ivr.accounts.users import create_user

    from .test_web import PASSWORD, _login

    create_user(session, "maria", PASSWORD)
    session.commit()
    response = _login(client, "maria", PASSWORD)
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")]
    assert cookies and all("SameSite=Lax" in cookie and "HttpOnly" in cookie for cookie in cookies)


def test_a_form_still_works_two_hours_after_the_page_was_loaded(ops, monkeypatch):
    token = _csrf(ops.get("/").data)
    later = int(time.time()) + 2 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = ops.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("token", ["", "forged"])
def test_a_form_without_its_token_is_still_refused(ops, token):
    assert ops.post("/logout", data={"csrf_token": token}).status_code == 400


@pytest.mark.parametrize(
    "url",
    ["JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
     "http://api.twilio.com/rec/RE1", "//evil.example/rec"],
)  # fmt: skip
def test_a_signed_recording_url_that_is_not_https_never_becomes_a_link(ops, twilio, url):
    call = CallDriver(twilio)
    queue = call.press(call.press(call.start(), "1"), "2")
    moved = call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="250")
    record = call.post(moved.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="700")
    call.post(record.xpath("//Record/@action")[0], RecordingUrl=url, RecordingDuration="75")
    doc = html.fromstring(ops.get(f"/calls/{call.sid}").data)
    assert doc.xpath("//audio | //video | //iframe | //embed | //object") == []
    assert [href for href in doc.xpath("//a/@href | //*/@src") if href.strip() == url.strip()] == []
    assert url.strip() in doc.xpath("string(//dd[@class='recording'])")  # shown as text
