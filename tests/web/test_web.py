"""The ops pages: sign-in with CSRF, the call list with filters and search, each call's timeline."""

from __future__ import annotations

import csv
import io
import re

import pytest
from lxml import html

from ivr.accounts.users import create_user

from ..helpers import sample_segment
from ..twilio import CallDriver

PASSWORD = "correct horse battery"


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


@pytest.fixture
def user(session):

    create_user(session, "ops", PASSWORD)
    session.commit()
    return "ops"


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1).decode()


def _login(client, username: str, password: str, next_url: str = ""):
    token = _csrf(client.get("/login").data)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def signed_in(client, user):
    assert _login(client, user, PASSWORD).status_code == 302
    return client


def test_pages_need_sign_in(client):
    for path in ("/", "/calls/CA1", "/calls.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_wrong_password_is_refused(client, user):
    response = _login(client, user, "not the password")
    assert response.status_code == 200
    assert b"Wrong username or password" in response.data
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, user):
    response = client.post("/login", data={"username": user, "password": PASSWORD})
    assert response.status_code == 400
    assert b"CSRF token is missing" in response.data

    assert client.get("/").status_code == 302


def test_login_redirects_only_inside_the_site(client, user):
    assert _login(client, user, PASSWORD, next_url="https://evil.example/").headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": _csrf(client.get("/").data)})
    assert _login(client, user, PASSWORD, next_url="/calls/CA1").headers["Location"] == "/calls/CA1"


def test_call_list_search_and_filters(signed_in, twilio):
    first = CallDriver(twilio, caller="+14155550101")
    first.press(first.press(first.start(), "1"), "1")
    second = CallDriver(twilio, caller="+14155550222")
    second.press(second.press(second.start(), "1"), "2")

    page = html.fromstring(signed_in.get("/").data)
    rows = page.xpath("//table[@class='calls']/tbody/tr")
    assert len(rows) == 2
    assert "2 calls" in page.xpath("string(//p[@class='summary'])")

    found = html.fromstring(signed_in.get("/?number=0222").data)
    cells = found.xpath("//table[@class='calls']/tbody/tr/td[2]/text()")
    assert cells == ["+14155550222"]
    # billing is split by caller (+14155550101 hashes to the BPO); support goes to the local desk
    desk = html.fromstring(signed_in.get("/?desk=bpo").data)
    assert desk.xpath("//table[@class='calls']/tbody/tr/td[2]/text()") == ["+14155550101"]
    export = signed_in.get(desk.xpath("string(//a[text()='Export CSV']/@href)"))
    assert (
        export.mimetype == "text/csv"
        and b"+14155550101" in export.data
        and b"+14155550222" not in export.data
    )
    export.close()


def test_bad_filter_is_explained(signed_in):
    response = signed_in.get("/?since=someday")
    assert response.status_code == 400
    assert b"since: &#39;someday&#39; is not an ISO 8601 date" in response.data


def test_call_timeline_shows_steps_and_recording(signed_in, twilio):
    call = CallDriver(twilio)
    queue = call.press(call.press(call.start(), "1"), "2")
    action = queue.xpath("//Enqueue/@action")[0]
    moved = call.post(action, QueueResult="leave", QueueTime="250")  # local overflows to the BPO (site.json)
    record = call.post(moved.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="700")
    call.post(
        record.xpath("//Record/@action")[0],
        RecordingUrl="https://api.twilio.com/rec/RE9",
        RecordingDuration="12",
    )
    page = html.fromstring(signed_in.get(f"/calls/{call.sid}").data)
    kinds = page.xpath("//ol[@class='timeline']/li/strong/text()")
    for kind in ("flow started", "menu choice", "route", "queue entered", "queue left", "recording"):
        assert kind in kinds
    assert page.xpath("//ol[@class='timeline']//a/@href") == ["https://api.twilio.com/rec/RE9"]
    said = " ".join(page.xpath("//span[@class='said']/text()"))
    assert "Thank you for calling Acme Home Supplies" in said
    assert signed_in.get("/calls/CAunknown").status_code == 404


def test_call_page_and_csv_say_how_the_call_reached_its_desk(signed_in, twilio, flows_dir):
    call = CallDriver(twilio)
    queue = call.press(call.press(call.start(), "1"), "2")  # support: the local desk's fixed route
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="250")  # overflows to bpo
    page = html.fromstring(signed_in.get(f"/calls/{call.sid}").data)
    names, values = page.xpath("//dl[@class='facts']/dt/text()"), page.xpath("//dl[@class='facts']/dd")
    facts = dict(zip(names, values, strict=True))
    segment = sample_segment(flows_dir, "to_support", "language:1 > main_menu:2")
    shown = [facts[name].text_content() for name in ("Desk", "Route strategy", "Assignment", "Segment")]
    assert shown == ["bpo", "fixed", "directed", segment]  # the local desk's overflow rule changes no route
    rows = list(csv.DictReader(io.StringIO(signed_in.get("/calls.csv").get_data(as_text=True))))
    assert [(r["call_sid"], r["desk"], r["route_strategy"], r["assignment"], r["segment"]) for r in rows] == [
        (call.sid, "bpo", "fixed", "directed", segment)
    ]


def test_logout_needs_post_with_csrf(signed_in):
    assert signed_in.get("/logout").status_code == 405
    assert signed_in.post("/logout").status_code == 400
    token = _csrf(signed_in.get("/").data)
    assert signed_in.post("/logout", data={"csrf_token": token}).status_code == 302
    assert signed_in.get("/").status_code == 302
