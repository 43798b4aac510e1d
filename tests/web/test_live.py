"""The live wallboard page: every desk now and today against its targets, refreshed in place from /live.json,
read from the database on each request (so any web process answers the same); partners see their desk."""

from __future__ import annotations

import pytest
from lxml import html

from ivr import create_app
from ivr.accounts.agents import create_agent
from ivr.accounts.users import create_user

from ..helpers import caller_meets_agent
from ..live_floor import busy_morning
from .test_web import PASSWORD, _login


def figure(page, desk: str, field: str):
    """The figure's box (value, target and verdict) on the desk's card."""
    found = page.xpath(f'//section[@data-desk="{desk}"]//*[@data-field="{field}"]/ancestor::div[1]')
    assert len(found) == 1, (desk, field)
    return found[0]


def value(page, desk: str, field: str) -> str:
    return figure(page, desk, field).xpath('.//*[@class="live-value"]')[0].text_content().strip()


@pytest.fixture
def floor(app, twilio, session):
    return busy_morning(app, twilio, session)


def test_the_board_shows_each_desk_now_and_today_against_its_targets(ops, floor):
    response = ops.get("/live")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    assert [s.get("data-desk") for s in page.xpath("//section[@data-desk]")] == ["local", "bpo"]
    now = {
        "now.waiting": "2", "now.longest_wait": "1 min 15 s", "now.agents_signed_in": "2",
        "now.agents_on_call": "1", "now.agents_free": "1",
    }  # fmt: skip
    today = {
        "today.offered": "7", "today.answered": "3", "today.abandoned": "2", "today.service_level": "33 %",
        "today.asa": "27 s", "today.abandonment_rate": "17 %",
    }  # fmt: skip
    assert {field: value(page, "local", field) for field in now | today} == now | today
    assert value(page, "bpo", "now.waiting") == "1" and value(page, "bpo", "now.agents_free") == "1"
    assert value(page, "bpo", "today.service_level") == "—"  # Manila's day began at 16:00 UTC: no call yet


@pytest.mark.parametrize(
    ("field", "verdict", "target"),
    [
        ("today.service_level", "missed", "target: 80 % within 20 s"),
        ("today.abandonment_rate", "missed", "target: at most 5 %"),
        ("today.asa", "met", "target: at most 30 s"),
        ("now.longest_wait", "missed", "target: at most 20 s"),
    ],
)
def test_a_missed_target_gets_its_class_and_says_so(ops, floor, field, verdict, target):
    box = figure(html.fromstring(ops.get("/live").data), "local", field)
    assert verdict in box.get("class").split()
    assert {"met", "missed"} - {verdict} & set(box.get("class").split()) == set()
    assert box.xpath(".//*[@data-verdict]")[0].text_content().strip() == verdict
    assert box.xpath('.//*[@class="live-target"]')[0].text_content().strip() == target


def test_figures_without_a_target_or_calls_are_not_coloured(ops, floor):
    page = html.fromstring(ops.get("/live").data)
    assert figure(page, "local", "today.offered").get("class") == "live-figure"
    assert figure(page, "bpo", "today.service_level").get("class") == "live-figure"  # nothing to judge yet


def test_the_page_refreshes_itself_from_its_json_with_an_external_script(ops, floor, client):
    page = html.fromstring(ops.get("/live").data)
    board = page.xpath('//*[@class="live-board"]')[0]
    assert board.get("data-source") == "/live.json" and board.get("data-refresh") == "5"
    scripts = page.xpath("//script")
    assert [s.get("src") for s in scripts] == ["/static/web/ivr.js", "/static/web/live.js"]
    assert all(not (s.text or "").strip() for s in scripts)  # nothing inline: CSP script-src 'self'
    with client.get("/static/web/live.js") as script:
        assert script.status_code == 200 and b"fetch(" in script.data and b"data-field" in script.data
    data = ops.get(board.get("data-source"))
    assert data.headers["Cache-Control"] == "no-store"
    local = data.get_json()["desks"][0]
    assert local["now"] == {
        "waiting": 2, "longest_wait": 75, "agents_signed_in": 2, "agents_on_call": 1, "agents_free": 1,
    }  # fmt: skip
    assert local["status"] == {
        "service_level": "missed", "asa": "met", "abandonment_rate": "missed", "longest_wait": "missed",
    }  # fmt: skip


def test_the_refresh_sees_a_change_at_once_from_another_web_process(ops, floor, app, config, twilio):
    second = create_app(config)  # another process on the same database: nothing is kept in either one
    try:
        other = second.test_client()
        other.environ_base["HTTP_REFERER"] = "https://ivr.test/"
        assert _login(other, "ops", PASSWORD).status_code == 302
        assert other.get("/live.json").get_json() == ops.get("/live.json").get_json()
        # the free agent takes the longest-waiting caller through the first app
        params = twilio.call_params(floor.sids["first"], "+14155550100", "+15125550100", status="in-progress")
        params |= {"QueueSid": "QU" + "1" * 32, "QueueTime": "75", "DequeingCallSid": floor.sids["al"]}
        twilio.post("/voice/agent/whisper", params)
        after = other.get("/live.json").get_json()["desks"][0]["now"]
        assert after == {
            "waiting": 1, "longest_wait": 10, "agents_signed_in": 2, "agents_on_call": 2, "agents_free": 0,
        }  # fmt: skip
    finally:
        second.extensions["ivr.db"].engine.dispose()


def test_the_nav_links_the_board(ops, floor):
    page = html.fromstring(ops.get("/").data)
    assert page.xpath('//header/nav/a[text()="Live"]/@href') == ["/live"]


def test_one_desk_only_and_an_unknown_desk(ops, floor):
    page = html.fromstring(ops.get("/live?desk=bpo").data)
    assert [s.get("data-desk") for s in page.xpath("//section[@data-desk]")] == ["bpo"]
    assert page.xpath('//*[@class="live-board"]/@data-source') == ["/live.json?desk=bpo"]
    wrong = ops.get("/live.json?desk=nosuch")
    assert wrong.status_code == 400
    message = wrong.get_json()["error"]["message"]
    assert message == "desk: unknown desk 'nosuch' (the published site has: bpo, local)"
    assert ops.get("/live?desk=nosuch").status_code == 400


@pytest.fixture
def partner(client, session):
    """The client signed in as a partner of the bpo desk."""
    create_user(session, "manila", PASSWORD, desk="bpo")
    session.commit()
    assert _login(client, "manila", PASSWORD).status_code == 302
    return client


def test_a_partner_sees_only_their_desk(partner, floor):
    page = html.fromstring(partner.get("/live").data)
    assert [s.get("data-desk") for s in page.xpath("//section[@data-desk]")] == ["bpo"]
    assert page.xpath('//header/nav/a[text()="Live"]')
    assert [d["desk"] for d in partner.get("/live.json").get_json()["desks"]] == ["bpo"]
    assert partner.get("/live?desk=local").status_code == 403
    refused = partner.get("/live.json?desk=local")
    assert refused.status_code == 403
    assert "only their own desk, 'bpo'" in refused.get_json()["error"]["message"]
    assert partner.get("/live.json?desk=bpo").status_code == 200


def test_signed_out_people_are_sent_to_sign_in(client, floor):
    assert client.get("/live").status_code == 302
    assert client.get("/live.json").status_code == 302


def test_a_call_answered_through_the_simulator_counts_at_once(app, ops, session):
    """A caller waits 90 s until an agent signs in and answers: the ASA and service level miss their
    targets, and both are back on the board when the call is over."""
    create_agent(session, "1001", "local", "432198", "Ana")
    session.commit()
    results = caller_meets_agent(app).results
    assert all(result.ok for result in results.values())

    local = ops.get("/live.json").get_json()["desks"][0]
    today = local["today"]
    assert (today["offered"], today["answered"], today["service_level"]) == (1, 1, 0)
    assert 60 < local["today"]["asa"] < 120
    assert local["status"]["asa"] == local["status"]["service_level"] == "missed"
    assert local["now"] == {
        "waiting": 0, "longest_wait": None, "agents_signed_in": 0, "agents_on_call": 0, "agents_free": 0,
    }  # fmt: skip
    page = html.fromstring(ops.get("/live").data)
    assert "missed" in figure(page, "local", "today.asa").get("class").split()
    assert value(page, "local", "today.asa").endswith(" s")
