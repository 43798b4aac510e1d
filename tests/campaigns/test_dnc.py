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
from ivr.models import Attempt, DncRemoval, DoNotCall

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
    removed = dnc.unblock(session, "+15125550101", by="ana", reason="consent given", now=OPEN)
    assert removed is not None
    assert dnc.unblock(session, "+15125550101", by="ana", reason="again", now=OPEN) is None
    session.commit()
    assert entries(session) == {}
    (kept,) = session.scalars(select(DncRemoval)).all()
    assert (kept.phone, kept.source, kept.note) == ("+15125550101", "manual", "asked by phone")
    assert kept.added_at == OPEN
    assert (kept.removed_by, kept.reason, kept.removed_at) == ("ana", "consent given", OPEN)


@pytest.mark.parametrize("reason", ["", "   ", None, 5, "x" * 501])
def test_a_removal_needs_a_reason(session, reason) -> None:
    dnc.block(session, "+15125550101", now=OPEN)
    with pytest.raises(ValueError, match="reason"):
        dnc.unblock(session, "+15125550101", by="ana", reason=reason, now=OPEN)  # type: ignore[arg-type]
    assert dnc.is_blocked(session, "+15125550101")


def test_an_opt_out_is_removed_only_when_allowed(session) -> None:
    dnc.block(session, "+15125550101", "opt-out", "opted out during call CA1", now=OPEN)
    with pytest.raises(dnc.OptOutProtected, match="only an admin"):
        dnc.unblock(session, "+15125550101", by="sue", reason="mistake", now=OPEN)
    assert dnc.is_blocked(session, "+15125550101")
    removal = dnc.unblock(session, "+15125550101", by="ada", reason="called back", now=OPEN, opt_outs=True)
    assert removal is not None and removal.source == "opt-out" and not dnc.is_blocked(session, "+15125550101")


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
    no_reason = runner.invoke(main, ["dnc", "remove", "5125550101"])
    assert no_reason.exit_code == 2 and "Missing option '--reason'" in no_reason.output
    blank = runner.invoke(main, ["dnc", "remove", "5125550101", "--reason", " "])
    assert blank.exit_code == 2 and "a reason is required" in blank.output
    removed = runner.invoke(main, ["dnc", "remove", "5125550101", "5125550199", "--reason", "wrong number"])
    assert removed.output.strip() == "1 removed; not on the list: +15125550199"
    assert sorted(entries(session)) == ["+15125550102", "+442079460000"]
    dnc.block(session, "+15125550120", "opt-out", "opted out during call CA1", now=OPEN)
    session.commit()
    kept = runner.invoke(main, ["dnc", "remove", "5125550120", "--reason", "asked"])
    assert kept.exit_code == 1 and "kept (callees' own opt-outs: add --opt-outs" in kept.output
    assert dnc.is_blocked(session, "+15125550120")
    forced = runner.invoke(main, ["dnc", "remove", "5125550120", "--reason", "asked again", "--opt-outs"])
    assert forced.exit_code == 0 and forced.output.strip() == "1 removed"
    shown = runner.invoke(main, ["dnc", "removals"]).output.splitlines()
    assert shown[0][19:].startswith("  +15125550120     by cli:")
    assert shown[0].endswith(": asked again")
    assert shown[1].strip() == "was opt-out since " + OPEN.isoformat()[:19] + " (opted out during call CA1)"
    assert shown[-1] == "2 removal(s)"
    as_json = json.loads(runner.invoke(main, ["dnc", "removals", "--json", "--phone", "+15125550101"]).output)
    assert [(r["phone"], r["source"], r["note"], r["reason"]) for r in as_json] == [
        ("+15125550101", "manual", "complained", "wrong number")
    ]
    assert runner.invoke(main, ["dnc", "list"]).output.splitlines()[-1] == (
        "2 number(s); 2 removal(s) on record: ivr dnc removals"
    )


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
    missing = client.delete("/api/dnc/+15125550104", headers=auth)
    assert missing.status_code == 400
    assert missing.json["error"]["message"].startswith("a reason is required to take a number off")
    blank = client.delete("/api/dnc/+15125550104", json={"reason": "  "}, headers=auth)
    assert blank.status_code == 400
    removed = client.delete("/api/dnc/+15125550104", json={"reason": "registry error"}, headers=auth).json
    assert removed["removed"] == "+15125550104"
    assert {k: removed["removal"][k] for k in ("source", "note", "removed_by", "reason")} == {
        "source": "import",
        "note": "registry",
        "removed_by": "token:tests",
        "reason": "registry error",
    }
    assert client.delete("/api/dnc/+15125550104?reason=again", headers=auth).status_code == 404
    gone = client.get("/api/dnc/+15125550104", headers=auth)
    assert gone.status_code == 404 and "removed " in gone.json["error"]["message"]
    assert "by token:tests" in gone.json["error"]["message"]
    by_query = client.delete("/api/dnc/+442079460000?reason=moved%20abroad", headers=auth)
    assert by_query.json["removal"]["reason"] == "moved abroad"
    listed = client.get("/api/dnc/removals", headers=auth).json
    assert listed["total"] == 2
    assert [r["phone"] for r in listed["removals"]] == ["+442079460000", "+15125550104"]
    one_number = client.get("/api/dnc/removals?phone=%2B15125550104", headers=auth).json["removals"]
    assert [r["reason"] for r in one_number] == ["registry error"]
    assert client.get("/api/dnc/removals?per_page=0", headers=auth).status_code == 400
    assert sorted(entries(session)) == ["+15125550101"]


@pytest.mark.parametrize(("role", "status"), [("supervisor", 403), ("admin", 200)])
def test_a_callees_own_opt_out_is_removed_only_by_an_admin(client, session, role, status) -> None:
    dnc.block(session, "+15125550101", "opt-out", "opted out during call CA1", now=OPEN)
    auth = {"Authorization": f"Bearer {create_token(session, role, role=role)}"}
    session.commit()
    answer = client.delete("/api/dnc/+15125550101", json={"reason": "asked to be called"}, headers=auth)
    assert answer.status_code == status
    if status == 403:
        message = answer.json["error"]["message"]
        assert message.startswith("+15125550101 is on the list because the callee opted out during a call.")
        assert "needs the remove_opt_outs permission" in message
        assert entries(session) == {"+15125550101": ("opt-out", "opted out during call CA1")}
        assert session.scalars(select(DncRemoval)).all() == []
    else:
        assert entries(session) == {}
        (removal,) = session.scalars(select(DncRemoval)).all()
        assert (removal.source, removal.removed_by) == ("opt-out", "token:admin")
        assert removal.reason == "asked to be called"
    # without a reason even an admin is refused
    assert client.delete("/api/dnc/+15125550101", json={}, headers=auth).status_code == 400


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
