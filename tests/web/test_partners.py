"""Partner users on the web pages: their desk's calls only, numbers masked per data policy, no ops pages."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import html
from sqlalchemy import select

from ivr.accounts.users import create_user
from ivr.cli.main import main
from ivr.models import CallEvent, User

from ..helpers import call_row
from ..twilio import CallDriver
from .test_web import PASSWORD, _login

BPO_CALLER = "+16465550111"  # billing: this number's half of the split is bpo, whose policy hides numbers
LOCAL_CALLER = "+14155550222"  # support: routed to local, whose policy shows them
HIDDEN = ("6465550111", "646 555 0111", "646-555-0111", "6 4 6 5 5 5 0 1 1 1")


@pytest.fixture
def client(client):
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


def _call(twilio, caller: str, digits: tuple[str, str]) -> str:
    call = CallDriver(twilio, caller=caller)
    root = call.start()
    for d in digits:
        root = call.press(root, d)
    return call.sid


@pytest.fixture
def sids(twilio, session) -> dict[str, str]:
    found = {"bpo": _call(twilio, BPO_CALLER, ("1", "1")), "local": _call(twilio, LOCAL_CALLER, ("1", "2"))}
    row = call_row(session, found["bpo"])
    row.transcription = "My number is 646-555-0111, please call back."
    spelled = " ".join(BPO_CALLER)
    session.add(CallEvent(call_id=row.id, kind="prompt", data={"items": [{"text": f"You are {spelled}"}]}))
    session.commit()
    return found


def _signed_in(client, session, desk: str | None):
    create_user(session, f"user-{desk}", PASSWORD, desk)
    session.commit()
    assert _login(client, f"user-{desk}", PASSWORD).status_code == 302
    return client


def _page(response):
    return html.fromstring(response.data)


def test_partner_with_masked_numbers_sees_only_their_desk(client, session, sids):
    bpo = _signed_in(client, session, "bpo")
    response = bpo.get("/")
    page = _page(response)
    assert (
        page.xpath("string(//header//span[contains(@class,'scope')])") == "partner: desk bpo, numbers masked"
    )
    rows = page.xpath("//table[@class='calls']/tbody/tr")
    assert [r.xpath("string(td[2])") for r in rows] == ["+1•••0111"]
    assert [r.xpath("string(td[5])") for r in rows] == ["bpo"]
    assert page.xpath("//input[@name='number']") == [] and page.xpath("//input[@name='desk']") == []
    assert page.xpath("//a[text()='Compare desks']") == []
    assert not any(hidden in response.get_data(as_text=True) for hidden in HIDDEN)

    widened = _page(bpo.get("/?desk=local"))
    assert widened.xpath("string(//td[@class='empty'])") == "No calls match these filters."


def test_masked_partner_cannot_search_by_number(client, session, sids):
    bpo = _signed_in(client, session, "bpo")
    response = bpo.get("/?number=0111")
    assert response.status_code == 400
    message = _page(response).xpath("string(//p[@role='alert'])")
    assert message == "number: search by number is not available: desk bpo does not show caller numbers"
    assert bpo.get("/calls.csv?number=0111").status_code == 400


def test_masked_partner_call_page_and_csv(client, session, sids):
    bpo = _signed_in(client, session, "bpo")
    response = bpo.get(f"/calls/{sids['bpo']}")
    page = _page(response)
    facts = dict(
        zip(page.xpath("//dl[@class='facts']/dt/text()"), page.xpath("//dl[@class='facts']/dd"), strict=True)
    )
    assert facts["From"].text_content() == "+1•••0111"
    assert facts["Transcription"].text_content() == "My number is •••0111, please call back."
    said = " ".join(page.xpath("//span[@class='said']/text()"))
    assert "You are +1•••0111" in said
    assert not any(hidden in response.get_data(as_text=True) for hidden in HIDDEN)

    export = bpo.get("/calls.csv?desk=")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    export.close()
    assert [(r["call_sid"], r["from"], r["desk"]) for r in rows] == [(sids["bpo"], "+1•••0111", "bpo")]


def test_another_desks_call_is_404_for_a_partner(client, session, sids):
    bpo = _signed_in(client, session, "bpo")
    assert bpo.get(f"/calls/{sids['local']}").status_code == 404
    assert bpo.get("/calls/CA0000000000000000000000000000ffff").status_code == 404


def test_partner_that_may_see_numbers_can_search(client, session, sids):
    local = _signed_in(client, session, "local")
    page = _page(local.get("/?number=0222"))
    assert page.xpath("string(//header//span[contains(@class,'scope')])") == "partner: desk local"
    assert page.xpath("//table[@class='calls']/tbody/tr/td[2]/text()") == [LOCAL_CALLER]
    assert _page(local.get("/?number=0111")).xpath("//table[@class='calls']/tbody/tr/td[2]/text()") == []


def test_partner_may_not_open_the_ops_report(client, session, sids):
    bpo = _signed_in(client, session, "bpo")
    for path in ("/reports/compare", "/reports/compare.json", "/reports/compare.csv"):
        assert bpo.get(path).status_code == 403


def test_ops_sees_every_desk_and_number(client, session, sids):
    ops = _signed_in(client, session, None)
    page = _page(ops.get("/"))
    assert page.xpath("string(//header//span[contains(@class,'scope')])") == "ops: all desks"
    assert sorted(page.xpath("//table[@class='calls']/tbody/tr/td[2]/text()")) == sorted(
        [BPO_CALLER, LOCAL_CALLER]
    )
    assert page.xpath("//header//a[text()='Compare desks']/@href") == ["/reports/compare"]
    detail = _page(ops.get(f"/calls/{sids['bpo']}"))
    assert "646-555-0111" in detail.xpath("string(//dl[@class='facts'])")


def test_user_create_with_a_desk(runner, session, env):
    made = runner.invoke(main, ["user", "create", "manila", "--desk", "bpo", "--password", PASSWORD])
    assert made.exit_code == 0, made.output
    assert "partner of desk bpo" in made.output
    assert session.scalars(select(User.desk).where(User.username == "manila")).one() == "bpo"

    wrong = runner.invoke(main, ["user", "create", "x", "--desk", "Bpo", "--password", PASSWORD])
    assert wrong.exit_code == 2
    assert "desk 'Bpo' is not in the published site (its desks: bpo, local)" in wrong.output
    assert session.scalars(select(User).where(User.username == "x")).first() is None
