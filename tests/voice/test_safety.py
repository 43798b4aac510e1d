"""What protects a call: signatures, malformed requests, errors inside steps, versions, status callbacks."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ivr.models import Call, CallEvent, SiteVersion

from ..conftest import OPEN
from ..helpers import call_row, events
from ..twilio import CallDriver, TwilioClient, new_sid, one, parse, xpath


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


# --- signatures ---------------------------------------------------------------------------------


def test_valid_signature_is_answered(twilio, session):
    assert twilio.post("/voice/incoming", twilio.call_params(new_sid())).status_code == 200
    assert _count(session, Call) == 1


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSByaWdodCBzaWduYXR1cmU="])
def test_missing_or_wrong_signature_is_403_and_changes_nothing(twilio, session, signature):
    sid = new_sid()
    for path in ("/voice/incoming", "/voice/status", "/voice/step/main/language/input"):
        response = twilio.post(path, twilio.call_params(sid, SequenceNumber="0"), signature=signature)
        assert response.status_code == 403
        assert b"Traceback" not in response.data
    assert _count(session, Call) == 0


def test_signature_for_other_parameters_is_rejected(twilio):
    params = twilio.call_params(new_sid())
    signature = twilio.sign("https://ivr.test/voice/incoming", params)
    tampered = params | {"From": "+15125550000"}
    assert twilio.post("/voice/incoming", tampered, signature=signature).status_code == 403


def test_signature_for_other_token_is_rejected(client):
    other = TwilioClient(client, "some-other-token", base="https://ivr.test")
    assert other.post("/voice/incoming", other.call_params(new_sid())).status_code == 403


def test_query_string_is_part_of_the_signed_url(twilio):
    params = twilio.call_params(new_sid())
    url = "https://ivr.test/voice/incoming?tenant=acme&b=2"
    assert twilio.post(url, params).status_code == 200
    without_query = twilio.sign("https://ivr.test/voice/incoming", params)
    assert twilio.post(url, params, signature=without_query).status_code == 403


def test_behind_a_proxy_public_base_url_is_what_twilio_signed(app, client):
    app.config["PUBLIC_BASE_URL"] = "https://phone.example.com/ivr"
    inside = TwilioClient(client, app.config["TWILIO_AUTH_TOKEN"], base="http://10.0.0.5:8000")
    params = inside.call_params(new_sid())
    public = inside.sign("https://phone.example.com/ivr/voice/incoming", params)
    root = parse(inside.post("/voice/incoming", params, signature=public))
    assert one(root, "//Gather/@action") == "https://phone.example.com/ivr/voice/step/main/language/input"
    internal = inside.sign("http://10.0.0.5:8000/voice/incoming", params)
    assert (
        inside.post("/voice/incoming", params | {"CallSid": new_sid()}, signature=internal).status_code == 403
    )


# --- malformed requests -------------------------------------------------------------------------


def test_missing_callsid_is_400(twilio, session):
    params = twilio.call_params("x")
    del params["CallSid"]
    response = twilio.post("/voice/incoming", params)
    assert response.status_code == 400
    assert b"CallSid" in response.data and b"Traceback" not in response.data
    assert _count(session, Call) == 0


def test_oversized_body_is_413(twilio, session):
    params = twilio.call_params(new_sid(), Padding="x" * 100_000)
    response = twilio.post("/voice/incoming", params)
    assert response.status_code == 413
    assert _count(session, Call) == 0


def test_non_utf8_body_is_400(client, session):
    body = b"CallSid=CA1&From=%FF%FE&To=%2B15125550100"
    response = client.post(
        "https://ivr.test/voice/incoming",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x"},
    )
    assert response.status_code == 400
    assert b"UTF-8" in response.data
    raw = client.post(
        "https://ivr.test/voice/incoming",
        data=b"CallSid=CA1&From=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert raw.status_code == 400
    assert _count(session, Call) == 0


def test_json_body_is_415(client):
    response = client.post("https://ivr.test/voice/incoming", json={"CallSid": "CA1"})
    assert response.status_code == 415


def test_unknown_event_is_404(call):
    call.start()
    response = call.twilio.post("/voice/step/main/language/bogus", call.params())
    assert response.status_code == 404


# --- errors inside a call -----------------------------------------------------------------------


def test_exception_in_a_step_still_answers_fallback_twiml(call, session, monkeypatch):
    root = call.start()

    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("ivr.voice.flow.step", broken)
    fallback = call.press(root, "1")
    assert "something went wrong on our side" in one(fallback, "/Response/Say/text()")
    enqueue = one(fallback, "/Response/Enqueue")
    assert enqueue.text == "local-desk"
    assert enqueue.get("action") == "https://ivr.test/voice/fallback"
    assert enqueue.get("waitUrl") is None
    row = call_row(session, call.sid)
    assert row.errors == 1
    error = events(session, call.sid, "error")[0]
    assert "RuntimeError: database on fire" in error.data["error"]
    assert row.node == "language"  # the failed step changed nothing else

    done = parse(call.twilio.post(enqueue.get("action"), call.params(QueueResult="bridged", QueueTime="30")))
    assert len(done) == 0
    assert events(session, call.sid, "fallback_result")[0].data == {
        "QueueResult": "bridged",
        "QueueTime": "30",
    }


def test_exception_on_incoming_still_answers(twilio, session, monkeypatch):
    monkeypatch.setattr("ivr.voice.flow.start", lambda *a, **k: 1 / 0)
    sid = new_sid()
    root = parse(twilio.post("/voice/incoming", twilio.call_params(sid)))
    assert one(root, "/Response/Enqueue/text()") == "local-desk"
    assert call_row(session, sid).errors == 1


@pytest.mark.parametrize("fallback", [{"dial": "+15125550111"}, {"voicemail": True}, {}])
def test_fallback_kinds(call, flows_dir, monkeypatch, fallback):
    site = json.loads((flows_dir / "site.json").read_text())
    site["fallback"] = {"prompt": "Sorry."} | fallback
    (flows_dir / "site.json").write_text(json.dumps(site))
    monkeypatch.setattr("ivr.voice.flow.start", lambda *a, **k: 1 / 0)
    root = call.start()
    expected = {"dial": "/Response/Dial/Number", "voicemail": "/Response/Record"}.get(
        next(iter(fallback), "")
    )
    assert bool(xpath(root, expected)) if expected else xpath(root, "/Response/*[1]/self::Say")
    assert xpath(root, "/Response/*[last()]/self::Hangup")


def test_step_for_unknown_call_starts_nothing(twilio, session):
    sid = new_sid()
    root = parse(twilio.post("/voice/step/main/main_menu/input", twilio.call_params(sid, Digits="1")))
    assert xpath(root, "/Response/Hangup")
    assert _count(session, Call) == 0


def test_repeated_incoming_keeps_one_call(call, session):
    call.start()
    events_before = _count(session, CallEvent)
    call.start()
    assert _count(session, Call) == 1
    assert _count(session, CallEvent) == events_before


# --- flow versions ------------------------------------------------------------------------------


def _edit_greeting(flows_dir, text: str) -> None:
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["prompt"] = text
    path.write_text(json.dumps(flow))


def test_call_stays_on_the_version_it_started_on(call, twilio, session, flows_dir):
    first = call.start()
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["main_menu"]["prompt"] = {"en": "New menu. Press 1.", "es": "Menú nuevo."}
    path.write_text(json.dumps(flow))

    later = CallDriver(twilio)
    later_menu = later.press(later.start(), "1")
    assert one(later_menu, "//Gather/Say[1]/text()") == "New menu. Press 1."
    menu = call.press(first, "1")
    assert one(menu, "//Gather/Say[1]/text()").startswith("For billing, press 1.")
    assert call_row(session, call.sid).site_version_id < call_row(session, later.sid).site_version_id
    assert _count(session, SiteVersion) == 2


def test_invalid_flow_is_refused_and_last_valid_version_kept(call, twilio, session, flows_dir, app):
    call.start()
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["next"] = "nowhere"
    path.write_text(json.dumps(flow))
    later = CallDriver(twilio)
    root = later.start()
    assert one(root, "/Response/Say[1]/text()").startswith("Thank you for calling Acme")
    assert call_row(session, later.sid).site_version_id == call_row(session, call.sid).site_version_id
    problems = [str(p) for p in app.extensions["ivr.flows"].problems]
    assert any("node 'greeting'" in p and "field 'next'" in p and "nowhere" in p for p in problems)


def test_no_valid_flows_at_all_apologises(flows_dir, twilio, session):
    (flows_dir / "main.json").write_text("{not json")
    root = parse(twilio.post("/voice/incoming", twilio.call_params(new_sid())))
    assert "cannot take your call" in one(root, "/Response/Say/text()")
    assert xpath(root, "/Response/Hangup")


# --- status callbacks ---------------------------------------------------------------------------


def test_duplicate_status_callback_is_applied_once(call, twilio, session):
    call.start()
    for _ in range(2):
        assert twilio.status(call.sid, "completed", 3, CallDuration="95").status_code == 204
    assert len(events(session, call.sid, "status")) == 1
    row = call_row(session, call.sid)
    assert (row.status, row.duration) == ("completed", 95)


def test_late_status_never_overwrites_a_final_one(call, twilio, session):
    call.start()
    twilio.status(call.sid, "completed", 3, CallDuration="61", Timestamp="Tue, 24 Nov 2026 16:01:01 +0000")
    twilio.status(call.sid, "in-progress", 2)
    twilio.status(call.sid, "ringing", 1)
    row = call_row(session, call.sid)
    assert (row.status, row.duration) == ("completed", 61)
    assert row.ended_at.isoformat() == "2026-11-24T16:01:01+00:00"
    assert [e.data["status"] for e in events(session, call.sid, "status")] == [
        "completed",
        "in-progress",
        "ringing",
    ]


def test_statuses_in_order_advance(call, twilio, session):
    call.start()
    twilio.status(call.sid, "in-progress", 1)
    assert call_row(session, call.sid).status == "in-progress"
    twilio.status(call.sid, "busy", 2, CallDuration="0")
    assert call_row(session, call.sid).status == "busy"


def test_status_for_a_call_never_seen_creates_its_row(twilio, session):
    sid = new_sid()
    twilio.status(sid, "failed", 0, CallDuration="0", Direction="outbound-api")
    row = call_row(session, sid)
    assert (row.status, row.direction, row.flow) == ("failed", "outbound-api", None)
    assert _count(session, CallEvent) == 1


def test_proxy_fix_hops_trust_forwarded_headers(config):
    from ivr import create_app

    app = create_app(config | {"PROXY_FIX_HOPS": 1, "SERVER_NAME": None})
    try:
        inside = TwilioClient(app.test_client(), config["TWILIO_AUTH_TOKEN"], base="http://127.0.0.1:8000")
        params = inside.call_params(new_sid())
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "phone.example.com"}
        signature = inside.sign("https://phone.example.com/voice/incoming", params)
        response = inside.post("/voice/incoming", params, signature=signature, headers=forwarded)
        assert one(parse(response), "//Gather/@action").startswith("https://phone.example.com/voice/step/")
    finally:
        app.extensions["ivr.db"].engine.dispose()


def test_proxy_fix_hops_keep_the_path_prefix_of_the_proxy(config):
    """Behind a proxy that serves ivr under /ivr (X-Forwarded-Prefix), the signature is checked against the
    URL Twilio used, prefix included, and the TwiML's callback URLs carry the prefix."""
    from ivr import create_app

    app = create_app(config | {"PROXY_FIX_HOPS": 1, "SERVER_NAME": None})
    try:
        inside = TwilioClient(app.test_client(), config["TWILIO_AUTH_TOKEN"], base="http://127.0.0.1:8000")
        params = inside.call_params(new_sid())
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "phone.example.com"}
        forwarded["X-Forwarded-Prefix"] = "/ivr"
        signature = inside.sign("https://phone.example.com/ivr/voice/incoming", params)
        response = inside.post("/voice/incoming", params, signature=signature, headers=forwarded)
        assert response.status_code == 200
        action = one(parse(response), "//Gather/@action")
        assert action.startswith("https://phone.example.com/ivr/voice/step/")
        step = inside.call_params(params["CallSid"], status="in-progress", Digits="1")
        path = action.removeprefix("https://phone.example.com/ivr")
        answer = inside.post(path, step, signature=inside.sign(action, step), headers=forwarded)
        assert answer.status_code == 200
    finally:
        app.extensions["ivr.db"].engine.dispose()


def test_app_refuses_to_start_without_auth_token(config):
    from ivr import create_app

    with pytest.raises(RuntimeError, match="TWILIO_AUTH_TOKEN is not set"):
        create_app(config | {"TWILIO_AUTH_TOKEN": ""})


def test_a_call_logged_concurrently_is_not_logged_twice(app, session, twilio):
    """Incoming and a status callback racing for a new CallSid, in two transactions: one row."""
    import threading

    from ivr.calls import log as calllog

    params = twilio.call_params(new_sid())
    sessions = app.extensions["ivr.db"].sessionmaker
    found = {}
    with sessions() as first:
        mine = calllog.insert_call(first, params, OPEN)  # not committed yet: the other insert must wait

        def other() -> None:
            with sessions() as second:
                found["ref"] = calllog.insert_call(second, params, OPEN)
                second.commit()

        racer = threading.Thread(target=other)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # the second insert waits for the first transaction
        first.commit()

    racer.join(30)
    assert not racer.is_alive()
    assert found["ref"].id == mine.id
    assert _count(session, Call) == 1


def _break_steps(monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.voice.flow.step", broken)


def test_failure_in_the_queue_wait_loop_keeps_the_caller_waiting(call, session, monkeypatch):
    enqueue = one(call.press(call.press(call.start(), "1"), "2"), "/Response/Enqueue")
    _break_steps(monkeypatch)
    hold = call.post(enqueue.get("waitUrl"), QueuePosition="2", QueueTime="30")
    assert [child.tag for child in hold] == ["Play"]  # waitUrl allows only prompts: no Enqueue, no Hangup
    assert call_row(session, call.sid).errors == 1


def test_failure_after_the_agent_hung_up_says_goodbye_without_queueing_again(call, monkeypatch):
    enqueue = one(call.press(call.press(call.start(), "1"), "2"), "/Response/Enqueue")
    _break_steps(monkeypatch)
    root = call.post(enqueue.get("action"), QueueResult="bridged", QueueTime="12")
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert one(root, "/Response/Say/text()") == "Thank you for calling. Goodbye."


def test_failure_when_the_caller_hung_up_in_the_queue_just_hangs_up(call, monkeypatch):
    enqueue = one(call.press(call.press(call.start(), "1"), "2"), "/Response/Enqueue")
    _break_steps(monkeypatch)
    root = call.post(enqueue.get("action"), QueueResult="hangup", QueueTime="12")
    assert [child.tag for child in root] == ["Hangup"]


@pytest.mark.parametrize("query", ["k=a%2Fb", "name=Jos%C3%A9&x=%7E", "a=1&a=2"])
def test_percent_encoded_query_strings_are_signed_as_sent(twilio, query):
    params = twilio.call_params(new_sid())
    url = f"https://ivr.test/voice/incoming?{query}"
    assert twilio.post(url, params).status_code == 200


def test_long_caller_addresses_are_logged_whole(call, session):
    call.caller = "sip:" + "a" * 80 + "@acme-support.sip.us1.twilio.com"
    root = call.start()
    assert xpath(root, "//Gather")
    assert call_row(session, call.sid).from_number == call.caller


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("CallSid", "CA" + "0" * 80, b"CallSid is longer than 64"), ("From", "+1512\x00", b"NUL")],
)
def test_malformed_identifiers_are_400(twilio, session, field, value, message):
    params = twilio.call_params(new_sid()) | {field: value}
    response = twilio.post("/voice/incoming", params)
    assert response.status_code == 400 and message in response.data
    assert _count(session, Call) == 0


def test_status_callback_edge_values_are_applied(call, twilio, session):
    call.start()
    odd = twilio.status(
        call.sid, "completed", 2**40, CallDuration="9", Timestamp="Tue, 24 Nov 2026 16:02:03 -0000"
    )
    assert odd.status_code == 204
    row = call_row(session, call.sid)
    assert (row.status, row.duration) == ("completed", 9)
    assert row.ended_at.isoformat() == "2026-11-24T16:02:03+00:00"


def test_app_refuses_to_start_without_secret_key(config):
    from ivr import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app(config | {"SECRET_KEY": ""})


def test_a_path_prefix_in_public_base_url_works_with_script_name(app, client):
    app.config["PUBLIC_BASE_URL"] = "https://pub.example.com/ivr"
    inside = TwilioClient(client, app.config["TWILIO_AUTH_TOKEN"], base="http://10.0.0.5:8000")
    params = inside.call_params(new_sid())
    signature = inside.sign("https://pub.example.com/ivr/voice/incoming", params)
    response = client.post(
        "http://10.0.0.5:8000/ivr/voice/incoming",
        data=params,
        headers={"X-Twilio-Signature": signature},
        environ_overrides={"SCRIPT_NAME": "/ivr", "PATH_INFO": "/voice/incoming"},
    )
    assert (
        one(parse(response), "//Gather/@action")
        == "https://pub.example.com/ivr/voice/step/main/language/input"
    )
