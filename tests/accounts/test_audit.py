"""The audit log: campaign and do-not-call changes from the pages, the API and the command line are written
with who, from where and what; admins read it on /audit and over GET /api/audit; the database refuses to
change an entry."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from lxml import html
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ivr.accounts.audit import Actor, record
from ivr.accounts.tokens import create_token
from ivr.accounts.users import create_user
from ivr.cli.main import main
from ivr.models import AuditEntry

from ..conftest import OPEN
from ..helpers import not_the_sample_folder
from ..web.test_web import PASSWORD, _csrf, _login

SETTINGS = {"name": "Reminders", "flow": "main", "caller_id": "+15125550100", "desk": "local"}
CSV = "phone\n+15125550101\n+15125550102\n"


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


def _entries(session) -> list[tuple[str, str, str, str, dict]]:
    """The entries these tests make: not the sample folder's publish when the app first serves it."""
    session.expire_all()
    rows = session.scalars(select(AuditEntry).where(not_the_sample_folder()).order_by(AuditEntry.id))
    return [(e.actor, e.address, e.action, e.target, e.details) for e in rows]


def _token(session, name: str, role: str) -> dict[str, str]:
    value = create_token(session, name, role=role)
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def _changes(session) -> list[str]:
    """Every way SQL could change or remove entries on this database (SQLite has no TRUNCATE)."""
    changes = ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"]
    return changes + (["TRUNCATE audit_log"] if session.get_bind().dialect.name == "postgresql" else [])


def test_an_entry_cannot_be_changed_or_removed(session):
    record(session, Actor("maria", "10.0.0.7"), "dnc.add", "+15125550100", OPEN, phones=["+15125550100"])
    session.commit()
    for change in _changes(session):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(change))
            session.flush()
        session.rollback()
    assert [entry[0] for entry in _entries(session)] == ["maria"]


def test_the_api_writes_who_changed_campaigns_and_the_do_not_call_list(client, session):
    auth = _token(session, "crm", "supervisor")
    created = client.post("/api/campaigns", json=SETTINGS, headers=auth).json["campaign"]
    csv = CSV.encode()
    imported = client.post(
        f"/api/campaigns/{created['id']}/contacts", data=csv, headers=auth | {"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200
    assert client.post("/api/campaigns/Reminders/start", headers=auth).status_code == 200
    assert client.post("/api/campaigns/Reminders/start", headers=auth).status_code == 409  # nothing written
    assert (
        client.post("/api/dnc", json={"phones": ["+15125550101"], "note": "asked"}, headers=auth).status_code
        == 200
    )
    removed = client.delete("/api/dnc/+15125550101", json={"reason": "asked to be called"}, headers=auth)
    assert removed.status_code == 200
    dnc_csv = "+15125550103\n+15125550104\n"
    listed = client.post(
        "/api/dnc/import?note=registry", data=dnc_csv, headers=auth | {"Content-Type": "text/csv"}
    )
    assert listed.status_code == 200
    figures = {"rows": 2, "imported": 2, "merged": 0, "invalid": 0, "blank_lines": 0, "on_do_not_call": 0}
    entries = _entries(session)
    assert {(actor, address) for actor, address, *_ in entries} == {("token:crm", "127.0.0.1")}
    assert [entry[2:] for entry in entries] == [
        ("campaign.create", "Reminders", {"id": created["id"]}),
        ("campaign.import", "Reminders", figures | {"region": "US"}),  # the caller ID's
        ("campaign.start", "Reminders", {"id": created["id"], "before": "draft", "state": "running"}),
        ("dnc.add", "+15125550101", {"phones": ["+15125550101"], "added": 1, "note": "asked"}),
        (
            "dnc.remove",
            "+15125550101",
            {
                "phones": ["+15125550101"],
                "reason": "asked to be called",
                "source": "manual",
                "note": "asked",
                "added_at": OPEN.isoformat(),
            },
        ),
        (
            "dnc.import",
            "do-not-call list",
            {"note": "registry", "added": 2, "already_listed": 0, "invalid": 0},
        ),
    ]


def test_a_campaign_button_writes_the_user_and_the_state_change(app, client, session):
    auth = _token(session, "crm", "supervisor")
    campaign = client.post("/api/campaigns", json=SETTINGS, headers=auth).json["campaign"]
    client.post(
        f"/api/campaigns/{campaign['id']}/contacts",
        data=CSV.encode(),
        headers=auth | {"Content-Type": "text/csv"},
    )
    create_user(session, "sam", PASSWORD, role="supervisor")
    session.commit()
    assert _login(client, "sam", PASSWORD).status_code == 302
    token = _csrf(client.get(f"/campaigns/{campaign['id']}").data)
    assert client.post(f"/campaigns/{campaign['id']}/start", data={"csrf_token": token}).status_code == 302
    assert _entries(session)[-1] == (
        "sam", "127.0.0.1", "campaign.start", "Reminders",
        {"id": campaign["id"], "before": "draft", "state": "running"},
    )  # fmt: skip


def test_the_command_line_writes_its_user(runner, env, session, tmp_path: Path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CSV)
    commands = [
        [
            "campaign",
            "create",
            "Reminders",
            "--flow",
            "main",
            "--caller-id",
            "+15125550100",
            "--desk",
            "local",
        ],
        ["campaign", "import", "Reminders", str(contacts)],
        ["campaign", "start", "Reminders"],
        ["campaign", "pause", "Reminders"],
        ["dnc", "add", "+15125550101", "+15125550102"],
        ["dnc", "remove", "+15125550101", "+15125550109", "--reason", "a test number"],
        ["dnc", "import", str(contacts)],
    ]
    for command in commands:
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
    entries = _entries(session)
    assert {(actor, address) for actor, address, *_ in entries} == {(f"cli:{getpass.getuser()}", "cli")}
    assert [(action, target) for _, _, action, target, _ in entries] == [
        ("campaign.create", "Reminders"),
        ("campaign.import", "Reminders"),
        ("campaign.start", "Reminders"),
        ("campaign.pause", "Reminders"),
        ("dnc.add", "2 numbers"),
        ("dnc.remove", "+15125550101"),  # only what was on the list
        ("dnc.import", "do-not-call list"),
    ]
    assert entries[4][4] == {"phones": ["+15125550101", "+15125550102"], "added": 2, "note": ""}
    assert entries[5][4]["reason"] == "a test number" and entries[5][4]["source"] == "manual"


def _many(session, count: int) -> None:
    for n in range(count):
        actor = Actor("maria" if n % 2 else "token:crm", "10.0.0.7")
        record(session, actor, "dnc.add" if n % 3 else "campaign.start", f"target {n}", OPEN, n=n)
    session.commit()


def test_admins_read_the_log_newest_first_filtered_and_paged(client, session):
    _many(session, 60)
    create_user(session, "root", PASSWORD, role="admin")
    session.commit()
    assert _login(client, "root", PASSWORD).status_code == 302
    page = html.fromstring(client.get("/audit").data)
    targets = page.xpath("//table[contains(@class, 'audit')]/tbody/tr/td[@class='target']/text()")
    assert targets == [f"target {n}" for n in range(59, 9, -1)]  # 50 a page
    assert page.xpath("//header//a[text()='Audit']/@href") == ["/audit"]
    older = html.fromstring(client.get(page.xpath("string(//a[@rel='next']/@href)")).data)
    assert older.xpath("//td[@class='target']/text()") == [f"target {n}" for n in range(9, -1, -1)]
    filtered = html.fromstring(client.get("/audit?action=campaign&actor=maria").data)
    expected = [f"target {n}" for n in range(59, -1, -1) if n % 2 and not n % 3]
    assert filtered.xpath("//td[@class='target']/text()") == expected
    assert filtered.xpath("string(//p[@class='count'])") == f"{len(expected)} entries"
    wildcard = html.fromstring(client.get("/audit?action=campaig_").data)  # a name, never a LIKE pattern
    assert wildcard.xpath("//td[@class='target']/text()") == []
    assert client.get("/audit?page=0").status_code == 400


def test_the_api_pages_the_log_after_an_id(client, session):
    _many(session, 7)
    auth = _token(session, "siem", "admin")
    first = client.get("/api/audit?per_page=3", headers=auth).json
    assert [e["target"] for e in first["entries"]] == ["target 0", "target 1", "target 2"]
    assert first["entries"][0] | {"id": 0} == {
        "id": 0, "at": "2026-11-24T16:00:00Z", "actor": "token:crm", "address": "10.0.0.7",
        "action": "campaign.start", "target": "target 0", "details": {"n": 0},
    }  # fmt: skip
    rest = client.get(first["next"].removeprefix("https://ivr.test"), headers=auth).json
    assert [e["target"] for e in rest["entries"]] == ["target 3", "target 4", "target 5"]
    last = client.get(f"/api/audit?after_id={rest['cursor']}", headers=auth).json
    assert ([e["target"] for e in last["entries"]], last["next"]) == (["target 6"], None)
    again = client.get(f"/api/audit?after_id={last['cursor']}", headers=auth).json
    assert (again["entries"], again["cursor"]) == ([], last["cursor"])
    mine = client.get("/api/audit?action=dnc.add&actor=maria", headers=auth).json["entries"]
    assert [e["target"] for e in mine] == ["target 1", "target 5"]
    assert client.get("/api/audit?after_id=-1", headers=auth).status_code == 400
    assert client.get("/api/audit", headers=_token(session, "ops", "ops")).status_code == 403
