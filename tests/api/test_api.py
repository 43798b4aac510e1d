"""The JSON API: bearer tokens, filters, pages, call detail with events, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token
from ivr.cli.main import main
from ivr.models import ApiToken

from ..helpers import call_row, sample_segment
from ..twilio import CallDriver, one
from ..writes import writes


@pytest.fixture
def token(app, session) -> str:
    value = create_token(session, "tests")
    session.commit()
    return value


@pytest.fixture
def api(client, token):
    def get(path: str, **params):
        return client.get(path, query_string=params or None, headers={"Authorization": f"Bearer {token}"})

    return get


def _call(twilio, caller: str, digits: tuple[str, ...] = ("1", "2")) -> CallDriver:
    call = CallDriver(twilio, caller=caller)
    root = call.start()
    for d in digits:
        root = call.press(root, d)
    return call


def _set_started(session, sid: str, when: datetime) -> None:
    row = call_row(session, sid)
    row.started_at = when
    session.commit()


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_calls_need_a_valid_bearer_token(client, token, header):
    headers = {"Authorization": header} if header else {}
    for path in ("/api/calls", "/api/calls.csv", "/api/calls/CA1"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json["error"]["status"] == 401


def test_token_from_the_cli_works(app, client, runner, monkeypatch, database_url, flows_dir):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FLOWS_DIR", str(flows_dir))
    monkeypatch.setenv("SECRET_KEY", "x")
    result = runner.invoke(main, ["token", "create", "--name", "reports"])
    assert result.exit_code == 0, result.output
    value = result.output.strip().splitlines()[-1]
    assert client.get("/api/calls", headers={"Authorization": f"Bearer {value}"}).status_code == 200


def test_call_list_filters_and_fields(twilio, session, api):
    billing = _call(twilio, "+14155550101", ("1", "1"))
    support = _call(twilio, "+14155550102", ("1", "2"))
    twilio.status(support.sid, "completed", 4, CallDuration="120")
    _set_started(session, billing.sid, datetime(2026, 11, 20, 9, tzinfo=UTC))
    _set_started(session, support.sid, datetime(2026, 11, 22, 9, tzinfo=UTC))

    everything = api("/api/calls").json
    assert everything["total"] == 2
    assert [c["call_sid"] for c in everything["calls"]] == [support.sid, billing.sid]  # newest first
    first = everything["calls"][0]
    for field in ("desk", "queue_time", "queue_result", "talk_time", "agent", "survey_score", "cost"):
        assert field in first
    assert (first["from"], first["desk"], first["status"], first["duration"]) == (
        "+14155550102",
        "local",
        "completed",
        120,
    )
    assert first["started_at"] == "2026-11-22T09:00:00Z"

    assert [c["call_sid"] for c in api("/api/calls", desk="bpo").json["calls"]] == [billing.sid]
    assert [c["call_sid"] for c in api("/api/calls", status="completed").json["calls"]] == [support.sid]
    assert [c["call_sid"] for c in api("/api/calls", number="555-0101").json["calls"]] == [billing.sid]
    assert [c["call_sid"] for c in api("/api/calls", since="2026-11-21").json["calls"]] == [support.sid]
    assert [c["call_sid"] for c in api("/api/calls", until="2026-11-20").json["calls"]] == [billing.sid]
    window = api("/api/calls", since="2026-11-20T08:00:00Z", until="2026-11-20T10:00:00+00:00").json
    assert [c["call_sid"] for c in window["calls"]] == [billing.sid]


def test_pages(twilio, api):
    sids = {_call(twilio, f"+1415555{n:04d}", ()).sid for n in range(5)}
    first = api("/api/calls", per_page=2).json
    assert (first["total"], len(first["calls"]), first["page"]) == (5, 2, 1)
    seen = {c["call_sid"] for c in first["calls"]}
    url = first["next"]
    while url:
        page = api(url.replace("https://ivr.test", "")).json
        seen |= {c["call_sid"] for c in page["calls"]}
        url = page["next"]
    assert seen == sids


@pytest.mark.parametrize(
    ("param", "value", "choices"),
    [
        ("since", "yesterday", ""),
        ("until", "2026-13-01", ""),
        ("page", "0", ""),
        ("per_page", "many", ""),
        ("per_page", "501", "500"),
        ("number", "abc", "digits"),
        ("desk", "nosuch", "bpo, local"),
        ("status", "completed,done", "no-answer"),
        ("direction", "sideways", "outbound-api"),
        ("outcome", "answerd", "abandoned"),
        ("legs", "both", "agents"),
        ("sort", "length", "-wait"),
    ],
)
def test_bad_filters_are_400_with_the_parameter_named(api, twilio, param, value, choices):
    _call(twilio, "+15125550100")  # a call on the log: a filter that was ignored would list it
    paths = ("/api/calls",) if param in ("page", "per_page") else ("/api/calls", "/api/calls.csv")
    for path in paths:
        response = api(path, **{param: value})
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        message = response.json["error"]["message"]
        assert message.startswith(f"{param}:") and choices in message


def test_call_detail_has_events_in_order(twilio, api):
    call = _call(twilio, "+14155550103", ("2", "1"))
    body = api(f"/api/calls/{call.sid}").json
    assert body["call"]["call_sid"] == call.sid
    kinds = [e["kind"] for e in body["events"]]
    assert kinds[0] == "flow_started"
    assert kinds.index("menu_choice") < kinds.index("route") < kinds.index("queue_entered")
    choice = next(e for e in body["events"] if e["kind"] == "menu_choice" and e["node"] == "language")
    assert choice["data"] == {"option": "2", "by": "dtmf"}
    assert api("/api/calls/CAnothere").status_code == 404


def test_csv_export_matches_filters(app, twilio, api):
    call = _call(twilio, "+14155550104", ("1", "1"))
    _call(twilio, "+14155550105", ("1", "2"))
    response = api("/api/calls.csv", desk="bpo")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    response.close()
    assert app.extensions["ivr.db"].engine.pool.checkedout() == 0  # the stream returned its connection

    assert [(r["call_sid"], r["desk"], r["from"]) for r in rows] == [(call.sid, "bpo", "+14155550104")]
    assert "queue_time" in rows[0] and "survey_score" in rows[0]


BILLING_SUPPORT = (("billing", 1), ("support", 2))  # the sample's route nodes and main menu keys
MENU = "language:1 > main_menu:"


def test_calls_say_how_they_reached_their_desk(app, twilio, api, flows_dir):
    billing = _call(twilio, "+14155550101", ("1", "1"))  # the sticky split sends this caller to the BPO
    support = _call(twilio, "+14155550102", ("1", "2"))  # always the local desk
    _call(twilio, "+14155550107", ())  # still in the language menu: no desk yet
    to_billing, to_support = (sample_segment(flows_dir, f"to_{m}", f"{MENU}{n}") for m, n in BILLING_SUPPORT)
    expected = {billing.sid: ("sticky", "split", to_billing), support.sid: ("fixed", "directed", to_support)}
    fields = ("route_strategy", "assignment", "segment")
    listed = {c["call_sid"]: tuple(c[f] for f in fields) for c in api("/api/calls").json["calls"]}
    assert listed == expected | {sid: (None, None, None) for sid in set(listed) - set(expected)}
    detail = api(f"/api/calls/{billing.sid}").json
    assert tuple(detail["call"][f] for f in fields) == expected[billing.sid]
    route = next(e["data"] for e in detail["events"] if e["kind"] == "route")
    assert (route["strategy"], route["assignment"], route["segment"]) == expected[billing.sid]

    response = api("/api/calls.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    response.close()
    exported = {r["call_sid"]: tuple(r[f] for f in fields) for r in rows}
    assert exported == expected | {sid: ("", "", "") for sid in set(exported) - set(expected)}
    assert len(exported) == 3


def test_incoming_twiml_still_fine_for_api_users(twilio):
    assert one(CallDriver(twilio).start(), "//Gather/@numDigits") == "1"


@pytest.mark.parametrize(
    "params",
    [{"page": "²"}, {"page": "9" * 5000}, {"since": "0001-01-01T00:00:00+01:00"},
     {"until": "9999-12-31T23:59:59-01:00"}, {"desk": "a\x00b"}],
)  # fmt: skip
def test_odd_filter_values_are_400_not_500(api, params):
    response = api("/api/calls", **params)
    assert response.status_code == 400
    assert response.json["error"]["status"] == 400
    assert api("/api/calls.csv", **params).status_code == 400


def test_nul_in_a_call_sid_is_400(api):
    assert api("/api/calls/CA%00x").status_code == 400


def test_reads_never_write(app, twilio, api, session):
    """GET requests with a token neither commit nor write, not even the token's last use."""
    call = _call(twilio, "+14155550106", ("1", "1"))
    app.extensions["ivr.flows"].current()  # the flows folder is published before the watch starts
    with writes() as seen:
        listed = api("/api/calls")
        detail = api(f"/api/calls/{call.sid}")
        exported = api("/api/calls.csv")
        rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
        exported.close()
        compared = api("/api/reports/compare", desks="local,bpo")
    assert [r.status_code for r in (listed, detail, exported, compared)] == [200, 200, 200, 200]
    assert seen == []
    assert [r["call_sid"] for r in rows] == [call.sid] and listed.json["calls"][0]["call_sid"] == call.sid
    assert session.scalars(select(ApiToken.last_used_at)).one() is None
