"""The campaigns API: create (400 names fields), CSV import, state changes, figures; ops tokens only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from ivr.accounts.tokens import create_token
from ivr.campaigns.service import change_state
from ivr.campaigns.tally import campaign_figures
from ivr.models import Campaign, Contact, DoNotCall

from ..campaign_helpers import attempt, contacts, new_campaign
from ..conftest import OPEN
from ..writes import writes

SETTINGS = {"name": "Reminders", "flow": "main", "caller_id": "+15125550100", "desk": "local"}


@pytest.fixture
def headers(session) -> dict[str, str]:
    token = create_token(session, "tests", role="supervisor")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def partner(session) -> dict[str, str]:
    token = create_token(session, "acme", desk="bpo")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def csv(client, headers, ref: str | int, text: str, **params: str):
    return client.post(
        f"/api/campaigns/{ref}/contacts",
        data=text.encode(),
        headers=headers | {"Content-Type": "text/csv"},
        query_string=params,
    )


def test_create_and_read_a_campaign(client, headers) -> None:
    created = client.post("/api/campaigns", json=SETTINGS | {"window": "09:00-20:00"}, headers=headers)
    assert created.status_code == 201, created.json
    body = created.json["campaign"]
    assert (body["name"], body["state"], body["window"], body["desk"]) == (
        "Reminders",
        "draft",
        "09:00-20:00",
        "local",
    )
    assert body["figures"]["contacts"] == 0
    assert body["figures"]["abandonment"]["text"] == "no human-answered calls yet (limit 3%)"
    by_name = client.get("/api/campaigns/Reminders", headers=headers)
    assert by_name.json["campaign"]["id"] == body["id"]
    assert client.get(f"/api/campaigns/{body['id']}", headers=headers).json["campaign"]["name"] == "Reminders"
    listed = client.get("/api/campaigns", headers=headers).json["campaigns"]
    assert [c["name"] for c in listed] == ["Reminders"]


def test_create_refuses_bad_values_naming_each_field(client, headers) -> None:
    bad = SETTINGS | {"caller_id": "12", "max_cps": 500, "retry_seconds": {"busy": 1}, "colour": "red"}
    response = client.post("/api/campaigns", json=bad, headers=headers)
    assert response.status_code == 400
    problems = {p["field"]: p["message"] for p in response.json["error"]["problems"]}
    assert set(problems) == {"colour", "caller_id", "retry_seconds.busy", "max_cps"}
    assert problems["max_cps"] == "must be a number above 0 and at most 100 (got 500)"
    assert client.post("/api/campaigns", data="name=x", headers=headers).status_code == 400
    client.post("/api/campaigns", json=SETTINGS, headers=headers)
    twice = client.post("/api/campaigns", json=SETTINGS, headers=headers)
    assert twice.json["error"]["problems"] == [
        {"field": "name", "message": "a campaign called 'Reminders' exists already"}
    ]


def test_import_a_csv_body(client, headers, app, session) -> None:
    campaign = new_campaign(app, session)
    text = "Phone,Name\n512-555-0101,Ann\nnope,Bob\n(512) 555-0101,Ann\n"
    response = csv(client, headers, campaign.id, text)
    assert response.status_code == 200, response.json
    report = response.json["report"]
    assert (report["rows"], report["imported"], report["merged"], report["invalid"]) == (3, 1, 1, 1)
    assert report["invalid_rows"] == [
        {"line": 3, "reason": "bad number 'nope': not a phone number", "phone": "nope"}
    ]
    assert report["merged_rows"] == [
        {"line": 4, "phone": "+15125550101", "into_line": 2, "earlier_import": False}
    ]
    assert list(contacts(session, campaign)) == ["+15125550101"]
    gb = csv(client, headers, campaign.id, "phone\n020 7946 0001\n", region="GB")
    assert gb.json["report"]["imported"] == 1
    assert csv(client, headers, campaign.id, "phone\n1\n", region="XX").status_code == 400
    header = csv(client, headers, campaign.id, "number\n+15125550102\n")
    assert header.status_code == 400
    assert header.json["error"]["message"] == "nothing imported: bad header (line 1): no 'phone' column"
    form = client.post(f"/api/campaigns/{campaign.id}/contacts", data={"phone": "1"}, headers=headers)
    assert form.status_code == 415
    assert csv(client, headers, 99, "phone\n").status_code == 404


def test_an_import_may_be_bigger_than_a_webhook_body(client, headers, app, session) -> None:
    campaign = new_campaign(app, session)
    rows = "".join(
        f"+1512{n // 10000 + 200:03d}{n % 10000:04d},Someone with a long name {n}\n" for n in range(3000)
    )
    text = "phone,name\n" + rows
    assert len(text) > app.config["MAX_CONTENT_LENGTH"]
    response = csv(client, headers, campaign.id, text)
    assert response.status_code == 200
    assert response.json["report"]["imported"] == 3000


def test_state_changes(client, headers, app, session) -> None:
    campaign = new_campaign(app, session)
    empty = client.post(f"/api/campaigns/{campaign.id}/start", headers=headers)
    assert (empty.status_code, empty.json["error"]["message"]) == (
        409,
        "campaign 'Reminders' has no contacts: import a list first",
    )
    csv(client, headers, campaign.id, "phone\n+15125550101\n")
    for action, state in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ]:
        response = client.post(f"/api/campaigns/{campaign.id}/{action}", headers=headers)
        assert (response.status_code, response.json["campaign"]["state"]) == (200, state)
    again = client.post(f"/api/campaigns/{campaign.id}/cancel", headers=headers)
    assert again.status_code == 409
    assert client.post(f"/api/campaigns/{campaign.id}/finish", headers=headers).status_code == 404
    assert client.post(f"/api/campaigns/{campaign.id}/explode", headers=headers).status_code == 404
    closed = csv(client, headers, campaign.id, "phone\n+15125550102\n")
    assert (closed.status_code, closed.json["error"]["message"]) == (
        409,
        "campaign 'Reminders' is cancelled: it takes no more contacts",
    )
    assert contacts(session, campaign)["+15125550101"].state == "cancelled"


def test_the_api_shows_the_same_figures_as_the_status(client, headers, app, session) -> None:
    campaign = new_campaign(app, session, desk="local")
    csv(client, headers, campaign.id, "phone\n+15125550101\n+15125550102\n+15125550103\n")
    people = contacts(session, campaign)
    attempt(session, campaign, people["+15125550101"], "completed", "human", queue=("bridged", 5))
    attempt(session, campaign, people["+15125550102"], "busy")
    body = client.get(f"/api/campaigns/{campaign.id}", headers=headers).json["campaign"]["figures"]
    expected = campaign_figures(session, campaign, OPEN).as_dict()
    assert body == expected
    assert (body["dialled"], body["answered_human"], body["busy"]) == (2, 1, 1)
    assert body["abandonment"]["rate"] == 1.0 and body["abandonment"]["over_limit"] is True
    assert campaign_figures(session, campaign, OPEN).abandonment.answered == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/campaigns"),
        ("post", "/api/campaigns"),
        ("get", "/api/campaigns/1"),
        ("post", "/api/campaigns/1/contacts"),
        ("post", "/api/campaigns/1/start"),
        ("get", "/api/dnc"),
        ("post", "/api/dnc"),
        ("delete", "/api/dnc/+15125550101"),
    ],
)
def test_ops_only(client, partner, method: str, path: str) -> None:
    assert getattr(client, method)(path).status_code == 401
    assert getattr(client, method)(path, headers=partner).status_code == 403


def test_reads_never_write(app, client, headers, session) -> None:
    """A campaign with nothing left to call stays as it is: GET neither commits nor writes."""
    campaign = new_campaign(app, session, desk="local")
    csv(client, headers, campaign.id, "phone\n+15125550101\n")
    change_state(session, campaign, "start", OPEN)
    session.execute(update(Contact).values(state="done"))  # behind the owner's back: nothing finishes it
    session.commit()
    client.post("/api/dnc", json={"phone": "+15125550199"}, headers=headers)
    app.extensions["ivr.flows"].current()  # the flows folder is published before the watch starts
    with writes() as seen:
        paths = ["/api/campaigns", f"/api/campaigns/{campaign.id}", "/api/dnc", "/api/dnc/+15125550199"]
        answers = [client.get(path, headers=headers) for path in paths]
    assert [a.status_code for a in answers] == [200] * 4 and seen == []
    assert answers[1].json["campaign"]["state"] == "running"
    assert answers[1].json["campaign"]["figures"]["remaining"] == 0
    session.expire_all()
    assert session.get_one(Campaign, campaign.id).state == "running"


def test_the_do_not_call_list_runs_on_the_app_clock(app, client, headers, session) -> None:
    """IVR_CLOCK (a fixed time in these tests) stamps entries added over the API, one by one or imported."""
    fixed = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    app.config["IVR_CLOCK"] = lambda: fixed
    added = client.post("/api/dnc", json={"phone": "+15125550101"}, headers=headers)
    imported = client.post(
        "/api/dnc/import", data=b"+15125550102\n", headers=headers | {"Content-Type": "text/csv"}
    )
    assert (added.status_code, imported.status_code) == (200, 200)
    stamped = dict(session.execute(select(DoNotCall.phone, DoNotCall.added_at)).all())
    assert stamped == {"+15125550101": fixed, "+15125550102": fixed}
    assert client.get("/api/dnc/+15125550101", headers=headers).json["entry"]["added_at"] == fixed.isoformat()
