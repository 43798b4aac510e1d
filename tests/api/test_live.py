"""GET /api/live: the wallboard's document for other screens, with a bearer token; partners see their desk."""

from __future__ import annotations

from datetime import datetime

import pytest

from ivr import metrics
from ivr.accounts.tokens import create_token

from ..live_floor import busy_morning


@pytest.fixture
def floor(app, twilio, session):
    return busy_morning(app, twilio, session)


@pytest.fixture
def as_token(client, session):
    def make(desk: str | None):
        headers = {"Authorization": f"Bearer {create_token(session, f'for {desk}', desk)}"}
        session.commit()
        return lambda query="": client.get("/api/live" + query, headers=headers)

    return make


def test_every_desk_now_and_today_with_targets_and_verdicts(as_token, floor):
    response = as_token(None)()
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["at"] == "2026-11-24T16:00:00+00:00" and body["refresh_seconds"] == 5
    assert set(body["definitions"]) >= {"waiting", "longest_wait", "service_level", "asa", "abandonment_rate"}
    local, bpo = body["desks"]
    assert (local["desk"], local["timezone"], local["day_started_at"]) == (
        "local", "America/Chicago", "2026-11-24T06:00:00+00:00",
    )  # fmt: skip
    assert local["now"] == {
        "waiting": 2, "longest_wait": 75, "agents_signed_in": 2, "agents_on_call": 1, "agents_free": 1,
    }  # fmt: skip
    today = local["today"]
    assert (today["offered"], today["answered"], today["abandoned"], today["short_abandoned"]) == (7, 3, 2, 1)
    assert today["service_level"] == pytest.approx(2 / 6)  # 10 s and Ana's 20 s: within 20 s
    assert today["abandonment_rate"] == pytest.approx(1 / 6)
    assert today["asa"] == pytest.approx(80 / 3)  # 10, 50 and 20 s
    assert local["targets"] == {
        "service_level_seconds": 20, "service_level_percent": 80, "asa_seconds": 30, "abandonment_percent": 5,
    }  # fmt: skip
    assert local["status"] == {
        "service_level": "missed", "asa": "met", "abandonment_rate": "missed", "longest_wait": "missed",
    }  # fmt: skip
    assert (bpo["desk"], bpo["now"]["waiting"]) == ("bpo", 1)
    assert bpo["day_started_at"] == "2026-11-24T16:00:00+00:00"  # midnight in Manila
    assert bpo["status"]["service_level"] is None  # no call yet in Manila's new day


@pytest.mark.parametrize("desk", ["local", "bpo"])
def test_todays_figures_are_the_comparison_reports_over_the_same_hours(app, session, as_token, floor, desk):
    """One set of definitions: the board's day so far equals the report's figures since the same midnight."""
    row = next(d for d in as_token(None)().get_json()["desks"] if d["desk"] == desk)
    site = app.extensions["ivr.flows"].published().site
    since = datetime.fromisoformat(row["day_started_at"])
    report = metrics.compare(session, site, "local", "bpo", since, None)["desks"][desk]
    assert row["today"] == {name: report[name] for name in row["today"]}
    assert row["today"]["offered"] == (7 if desk == "local" else 0)


def test_one_desk_and_refused_parameters(as_token, floor):
    ops = as_token(None)
    assert [d["desk"] for d in ops("?desk=bpo").get_json()["desks"]] == ["bpo"]
    unknown = ops("?desk=nosuch")
    assert unknown.status_code == 400 and "bpo, local" in unknown.get_json()["error"]["message"]
    extra = ops("?since=today")
    assert extra.status_code == 400 and "it takes: desk" in extra.get_json()["error"]["message"]


def test_a_partner_token_sees_only_its_desk(as_token, floor):
    partner = as_token("bpo")
    assert [d["desk"] for d in partner().get_json()["desks"]] == ["bpo"]
    assert partner("?desk=bpo").status_code == 200
    refused = partner("?desk=local")
    assert refused.status_code == 403 and refused.get_json()["error"]["status"] == 403


def test_a_token_is_required(client, floor):
    assert client.get("/api/live").status_code == 401
    assert client.get("/api/live", headers={"Authorization": "Bearer wrong"}).status_code == 401
