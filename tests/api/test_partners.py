"""Partner tokens on the JSON API: only their desk's calls, numbers masked per the desk's data policy."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token
from ivr.cli.main import main
from ivr.models import ApiToken, CallEvent

from ..helpers import call_row
from ..twilio import CallDriver

BPO_CALLER = "+16465550111"  # billing: this number's half of the split is bpo, whose policy hides numbers
LOCAL_CALLER = "+14155550222"  # routed to local (support), whose policy shows them
HIDDEN = ("6465550111", "646 555 0111", "646-555-0111")


def _call(twilio, caller: str, digits: tuple[str, str]) -> str:
    call = CallDriver(twilio, caller=caller)
    root = call.start()
    for d in digits:
        root = call.press(root, d)
    return call.sid


@pytest.fixture
def sids(twilio, session) -> dict[str, str]:
    """One call per desk; the bpo call's number also appears in an event and its transcription."""
    found = {"bpo": _call(twilio, BPO_CALLER, ("1", "1")), "local": _call(twilio, LOCAL_CALLER, ("1", "2"))}
    row = call_row(session, found["bpo"])
    row.transcription = "Please call me back on 646 555 0111, or at the office +44 20 7946 0958."
    session.add(
        CallEvent(call_id=row.id, kind="note", data={"From": BPO_CALLER, "said": "it is 646-555-0111"})
    )
    session.commit()
    return found


def _token(session, desk: str | None) -> str:
    value = create_token(session, f"for {desk}", desk)
    session.flush()
    row = session.scalars(select(ApiToken).where(ApiToken.name == f"for {desk}")).one()
    row.role = "partner" if desk else "admin"  # a desk's token is a partner's; the other may do anything
    session.commit()
    return value


@pytest.fixture
def as_token(client, session):
    def make(desk: str | None):
        headers = {"Authorization": f"Bearer {_token(session, desk)}"}
        return lambda path, **params: client.get(path, query_string=params or None, headers=headers)

    return make


def test_partner_sees_only_their_desk_and_cannot_widen_it(sids, as_token):
    local = as_token("local")
    body = local("/api/calls").json
    assert (body["total"], [c["call_sid"] for c in body["calls"]]) == (1, [sids["local"]])
    assert body["calls"][0]["from"] == LOCAL_CALLER  # local's policy shows numbers
    assert local("/api/calls", desk="bpo").json["total"] == 0  # a desk filter narrows, never widens
    assert local("/api/calls", desk="").json["total"] == 1
    assert local("/api/calls", number="0222").json["total"] == 1  # search allowed where numbers are shown
    assert local("/api/calls", number="0111").json["total"] == 0

    rows = list(csv.DictReader(io.StringIO(local("/api/calls.csv", desk="bpo").get_data(as_text=True))))
    assert rows == []
    rows = list(csv.DictReader(io.StringIO(local("/api/calls.csv").get_data(as_text=True))))
    assert [(r["call_sid"], r["from"]) for r in rows] == [(sids["local"], LOCAL_CALLER)]


def test_another_desks_call_is_not_found_for_a_partner(sids, as_token):
    local = as_token("local")
    hidden = local(f"/api/calls/{sids['bpo']}")
    missing = local("/api/calls/CA0000000000000000000000000000ffff")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json["error"]["message"] == f"no call {sids['bpo']}"  # same words as a call that never was
    assert local(f"/api/calls/{sids['local']}").json["call"]["desk"] == "local"


def test_masked_partner_never_receives_the_number(sids, as_token):
    bpo = as_token("bpo")
    listed = bpo("/api/calls")
    assert [c["call_sid"] for c in listed.json["calls"]] == [sids["bpo"]]
    call = listed.json["calls"][0]
    assert (call["from"], call["to"]) == ("+1•••0111", "+1•••0100")
    detail = bpo(f"/api/calls/{sids['bpo']}")
    assert detail.json["call"]["transcription"] == (
        "Please call me back on •••0111, or at the office +44•••0958."
    )
    note = next(e for e in detail.json["events"] if e["kind"] == "note")
    assert note["data"] == {"From": "+1•••0111", "said": "it is •••0111"}
    exported = bpo("/api/calls.csv")
    text = exported.get_data(as_text=True)
    exported.close()
    assert "+1•••0111" in text
    for response in (listed, detail):
        body = response.get_data(as_text=True)
        assert not any(hidden in body for hidden in HIDDEN)
    assert not any(hidden in text for hidden in HIDDEN)


def test_masked_partner_cannot_search_by_number(sids, as_token):
    bpo = as_token("bpo")
    for path in ("/api/calls", "/api/calls.csv"):
        response = bpo(path, number="0111")
        assert response.status_code == 400
        assert response.json["error"]["message"] == (
            "number: search by number is not available: desk bpo does not show caller numbers"
        )


def test_ops_token_sees_every_desk_and_number(sids, as_token):
    ops = as_token(None)
    calls = ops("/api/calls").json["calls"]
    assert sorted((c["desk"], c["from"]) for c in calls) == [("bpo", BPO_CALLER), ("local", LOCAL_CALLER)]
    detail = ops(f"/api/calls/{sids['bpo']}").json
    assert "646 555 0111" in detail["call"]["transcription"]


def test_partner_token_is_refused_by_ops_only_endpoints(app, client, session, sids, as_token):
    ops_only = [
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        and rule.endpoint
        not in {"api.calls.index", "api.calls.csv", "api.calls.show", "api.openapi.show", "api.live.board"}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    assert ("/api/reports/compare", "GET") in ops_only
    assert any(method == "POST" for _, method in ops_only)
    headers = {"Authorization": f"Bearer {_token(session, 'bpo')}"}
    for path, method in ops_only:
        url = path.replace("<ref>", "1").replace("<action>", "start").replace("<phone>", "+15125550100")
        response = client.open(url, method=method, headers=headers, query_string={"desks": "local,bpo"})
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json["error"]["status"] == 403
    assert as_token(None)("/api/reports/compare", desks="local,bpo").status_code == 200


def test_token_create_with_a_desk(runner, session, env):
    result = runner.invoke(main, ["token", "create", "--name", "acme-bpo", "--desk", "bpo"])
    assert result.exit_code == 0, result.output
    assert "partner of desk bpo" in result.output
    assert session.scalars(select(ApiToken.desk).where(ApiToken.name == "acme-bpo")).one() == "bpo"

    wrong = runner.invoke(main, ["token", "create", "--name", "x", "--desk", "nowhere"])
    assert wrong.exit_code == 2
    assert "desk 'nowhere' is not in the published site (its desks: bpo, local)" in wrong.output
    assert session.scalars(select(ApiToken).where(ApiToken.name == "x")).first() is None
