"""The do-not-call list: add, remove, import and list (service, CLI, API), and opting out during a call."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token
from ivr.campaigns import attempts, dnc
from ivr.campaigns.csvfile import FileError
from ivr.campaigns.importer import import_contacts
from ivr.campaigns.phone import PhoneError
from ivr.campaigns.service import flow_variables
from ivr.cli.main import main
from ivr.models import Attempt, DoNotCall

from ..campaign_helpers import CALLER_ID, contacts, new_campaign
from ..conftest import OPEN
from ..helpers import call_row, events
from ..twilio import CallDriver, new_sid, one, parse

OPT_OUT_FLOW = {
    "name": "optout",
    "numbers": ["+15125550142"],
    "variables": ["appointment"],
    "start": "ask",
    "nodes": {
        "ask": {
            "type": "menu",
            "prompt": "This is Acme about your visit {appointment}. Press 1 to confirm, or 9 to stop.",
            "options": {"1": "bye", "9": "remove"},
            "timeout": "bye",
            "invalid": "bye",
        },
        "remove": {"type": "opt_out", "prompt": "You will not be called again. Goodbye."},
        "bye": {"type": "hangup", "prompt": "Goodbye."},
    },
}


def entries(session) -> dict[str, tuple[str, str]]:
    session.expire_all()
    return {e.phone: (e.source, e.note) for e in session.scalars(select(DoNotCall))}


def test_block_check_and_unblock(session) -> None:
    assert dnc.block(session, "+15125550101", "manual", "asked by phone", now=OPEN) is True
    assert dnc.block(session, "+15125550101", "import", now=OPEN) is False  # the first entry is kept
    session.commit()
    assert dnc.is_blocked(session, "+15125550101")
    assert not dnc.is_blocked(session, "+15125550102")
    assert entries(session) == {"+15125550101": ("manual", "asked by phone")}
    assert dnc.blocked_among(session, ["+15125550101", "+15125550102"]) == {"+15125550101"}
    with pytest.raises(PhoneError, match="not written in E.164"):
        dnc.block(session, "+1 512-555-0101", now=OPEN)
    with pytest.raises(PhoneError, match="no country code"):
        dnc.block(session, "512-555-0101", now=OPEN)
    with pytest.raises(ValueError, match="unknown source 'web'"):
        dnc.block(session, "+15125550103", "web", now=OPEN)
    assert dnc.unblock(session, "+15125550101") is True
    assert dnc.unblock(session, "+15125550101") is False
    session.commit()
    assert entries(session) == {}


def test_import_a_list_reporting_bad_lines(session) -> None:
    dnc.block(session, "+15125550109", now=OPEN)
    text = "Name,PHONE\nAnn,512-555-0101\nBob,not a number\nCat,(512) 555-0101\n\n"
    text += "Dan,+1 512 555 0109\nEve,\x00\n"
    report = dnc.import_list(session, io.StringIO(text), "US", "import", "registry copy 2026-11-01", now=OPEN)
    session.commit()
    assert report.as_dict() == {
        "added": 1,
        "already_listed": 2,
        "invalid": [
            {"line": 3, "reason": "bad number 'not a number': not a phone number"},
            {"line": 7, "reason": "contains a NUL character"},
        ],
    }
    assert entries(session)["+15125550101"] == ("import", "registry copy 2026-11-01")
    plain = dnc.import_list(session, io.StringIO("+442079460000\n02079460001\n"), "GB", now=OPEN)
    assert (plain.added, plain.problems) == (2, [])


def test_the_cli(runner, monkeypatch, database_url, flows_dir, app, session, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FLOWS_DIR", str(flows_dir))
    monkeypatch.setenv("SECRET_KEY", "x")
    added = runner.invoke(main, ["dnc", "add", "512-555-0101", "+44 20 7946 0000", "--note", "complained"])
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "2 added, 0 already on the list: +15125550101, +442079460000"
    bad = runner.invoke(main, ["dnc", "add", "12"])
    assert bad.exit_code == 2 and "bad number '12'" in bad.output
    path = tmp_path / "registry.csv"
    path.write_text("phone\n5125550102\nnope\n5125550101\n")
    imported = runner.invoke(main, ["dnc", "import", str(path)])
    assert imported.output.splitlines() == [
        "line 3: bad number 'nope': not a phone number",
        "1 added, 1 already on the list, 1 invalid",
    ]
    listed = json.loads(runner.invoke(main, ["dnc", "list", "--json"]).output)
    assert sorted((e["phone"], e["source"]) for e in listed) == [
        ("+15125550101", "manual"),
        ("+15125550102", "import"),
        ("+442079460000", "manual"),
    ]
    only = runner.invoke(main, ["dnc", "list", "--source", "import"]).output.splitlines()
    assert only[0].startswith("+15125550102     import") and only[-1] == "1 number(s)"
    removed = runner.invoke(main, ["dnc", "remove", "5125550101", "5125550199"])
    assert removed.output.strip() == "1 removed; not on the list: +15125550199"
    assert sorted(entries(session)) == ["+15125550102", "+442079460000"]


def test_the_api(client, session) -> None:
    token = create_token(session, "tests", role="supervisor")
    session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    added = client.post(
        "/api/dnc", json={"phones": ["512-555-0101", "+15125550101"], "note": "x"}, headers=auth
    )
    assert added.json == {"added": 1, "already_listed": 0, "phones": ["+15125550101"]}
    one_more = client.post("/api/dnc", json={"phone": "020 7946 0000", "region": "GB"}, headers=auth)
    assert one_more.json["phones"] == ["+442079460000"]
    refused = client.post("/api/dnc", json={"phones": ["+15125550103", "nope"]}, headers=auth)
    assert refused.status_code == 400
    assert refused.json["error"]["message"] == "nothing added: bad number 'nope': not a phone number"
    assert client.post("/api/dnc", json={"phone": 5}, headers=auth).status_code == 400
    body = client.post(
        "/api/dnc/import?note=registry",
        data=b"phone\n5125550104\nbad\n",
        headers=auth | {"Content-Type": "text/csv"},
    )
    assert body.json["report"] == {
        "added": 1,
        "already_listed": 0,
        "invalid": [{"line": 3, "reason": "bad number 'bad': not a phone number"}],
    }
    page = client.get("/api/dnc?per_page=2", headers=auth).json
    assert (page["total"], len(page["entries"]), page["page"]) == (3, 2, 1)
    assert client.get("/api/dnc?source=import", headers=auth).json["total"] == 1
    assert client.get("/api/dnc?per_page=0", headers=auth).status_code == 400
    entry = client.get("/api/dnc/+15125550104", headers=auth).json["entry"]
    assert (entry["source"], entry["note"]) == ("import", "registry")
    assert client.delete("/api/dnc/+15125550104", headers=auth).json == {"removed": "+15125550104"}
    assert client.delete("/api/dnc/+15125550104", headers=auth).status_code == 404
    assert client.get("/api/dnc/+15125550104", headers=auth).status_code == 404
    assert sorted(entries(session)) == ["+15125550101", "+442079460000"]


@pytest.fixture
def opt_out_line(flows_dir):
    (flows_dir / "optout.json").write_text(json.dumps(OPT_OUT_FLOW))
    return "+15125550142"


def test_a_caller_opts_out_during_an_incoming_call(twilio, session, opt_out_line) -> None:
    call = CallDriver(twilio, caller="+12125551234", called=opt_out_line)
    root = call.start()
    assert "press 1 to confirm, or 9 to stop" in one(root, "//Gather/Say/text()").lower()
    root = call.press(root, "9")
    assert one(root, "//Say/text()") == "You will not be called again. Goodbye."
    assert len(root.xpath("//Hangup")) == 1
    assert entries(session) == {"+12125551234": ("opt-out", f"opted out during call {call.sid}")}
    (event,) = events(session, call.sid, "do_not_call")
    assert (event.node, event.data) == ("remove", {"number": "+12125551234", "added": True})
    again = CallDriver(twilio, caller="+12125551234", called=opt_out_line)
    again.press(again.start(), "9")
    (repeat,) = events(session, again.sid, "do_not_call")
    assert repeat.data == {"number": "+12125551234", "added": False, "reason": "already on the list"}


def test_an_opt_out_is_stamped_by_the_app_clock(app, twilio, session, opt_out_line) -> None:
    """The entry, the call and its events all carry the time of IVR_CLOCK (the simulator's, in a run)."""
    fixed = OPEN + timedelta(days=1, minutes=3)
    app.config["IVR_CLOCK"] = lambda: fixed
    call = CallDriver(twilio, caller="+12125551234", called=opt_out_line)
    call.press(call.start(), "9")
    assert session.scalars(select(DoNotCall.added_at)).one() == fixed
    assert call_row(session, call.sid).started_at == fixed
    assert {event.at for event in events(session, call.sid, "do_not_call")} == {fixed}


def test_a_withheld_number_cannot_be_listed(twilio, session, opt_out_line) -> None:
    call = CallDriver(twilio, caller="anonymous", called=opt_out_line)
    root = call.press(call.start(), "9")
    assert one(root, "//Say/text()") == "You will not be called again. Goodbye."
    (event,) = events(session, call.sid, "do_not_call")
    assert event.data["added"] is False and event.data["number"] == "anonymous"
    assert entries(session) == {}
    assert call_row(session, call.sid).errors == 0


def test_a_callee_opts_out_during_a_campaign_call_and_is_not_called_again(
    app, twilio, session, opt_out_line
) -> None:
    campaign = new_campaign(app, session, flow="optout")
    needs = flow_variables(app.extensions["ivr.flows"].current().site, campaign)
    assert needs == ("appointment",)
    with pytest.raises(FileError, match="no column for: appointment"):
        import_contacts(session, campaign, io.StringIO("phone\n+12125551234\n"), OPEN, needs=needs)
    session.rollback()
    text = "phone,appointment\n+12125551234,on Monday at 10\n+12125551235,on Tuesday\n"
    import_contacts(session, campaign, io.StringIO(text), OPEN, needs=needs)
    session.commit()
    people = contacts(session, campaign)
    dialled = Attempt(
        campaign_id=campaign.id, contact_id=people["+12125551234"].id, number=1, status="queued"
    )
    later = Attempt(campaign_id=campaign.id, contact_id=people["+12125551235"].id, number=1, status="pending")
    session.add_all([dialled, later])
    people["+12125551234"].state = people["+12125551235"].state = "dialling"
    campaign.state = "running"
    session.commit()
    sid = new_sid()
    answer = twilio.call_params(
        sid, CALLER_ID, "+12125551234", status="in-progress", Direction="outbound-api", AnsweredBy="human"
    )
    root = parse(twilio.post(f"/voice/outbound/{dialled.id}", answer))
    assert one(root, "//Gather/Say/text()").startswith("This is Acme about your visit on Monday at 10.")
    driver = CallDriver(twilio, sid=sid, caller=CALLER_ID, called="+12125551234")
    root = driver.post(one(root, "//Gather/@action"), Digits="9", Direction="outbound-api")
    assert one(root, "//Say/text()") == "You will not be called again. Goodbye."
    assert entries(session) == {"+12125551234": ("opt-out", f"opted out during call {sid}")}
    assert call_row(session, sid).direction == "outbound-api"
    # the other contact's number is listed by hand meanwhile: the dialer checks just before calling
    dnc.block(session, "+12125551235", "manual", now=OPEN)
    session.commit()
    assert attempts.mark_requested(session, later.id, OPEN) == "blocked"
    session.commit()
    skipped = contacts(session, campaign)["+12125551235"]
    assert (skipped.state, skipped.last_outcome) == ("skipped", "do-not-call")
