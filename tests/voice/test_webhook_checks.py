"""The webhook's own checks on the lean path: the body read once, one HMAC before twilio's validator, and no
cookie session, signed-in user, CSRF or app-wide hook for a webhook (ivr.application)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.accounts.access import login_manager
from ivr.accounts.users import create_user
from ivr.models import Call
from ivr.voice.security import expected_signature, parse_form

from ..conftest import AUTH_TOKEN
from ..twilio import new_sid, parse
from ..web.test_web import PASSWORD, _login

INCOMING = "https://ivr.test/voice/incoming"


def _calls(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Call))


def _post_raw(client, url: str, body: str, signature: str):
    return client.post(
        url,
        data=body.encode(),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


@pytest.fixture
def validator_calls(monkeypatch) -> list[str]:
    """The URLs twilio's RequestValidator.validate was asked about (it still answers)."""
    calls: list[str] = []
    original = RequestValidator.validate

    def counted(self, uri, params, signature, algorithm=None):
        calls.append(uri)
        return original(self, uri, params, signature, algorithm)

    monkeypatch.setattr(RequestValidator, "validate", counted)
    return calls


# --- the signature -----------------------------------------------------------------------------------


def test_a_request_signed_for_its_url_takes_one_hmac(twilio, validator_calls):
    assert twilio.post("/voice/incoming", twilio.call_params(new_sid())).status_code == 200
    assert validator_calls == []


@pytest.mark.parametrize(
    ("signed", "posted"),
    [
        ("https://ivr.test:443/voice/incoming", "https://ivr.test/voice/incoming"),
        ("http://ivr.test/voice/incoming", "http://ivr.test:8080/voice/incoming"),
        ("http://ivr.test:8080/voice/incoming", "http://ivr.test:8080/voice/incoming"),
    ],
)
def test_a_request_signed_with_or_without_the_port_passes(
    client, twilio, session, validator_calls, signed, posted
):
    params = twilio.call_params(new_sid())
    response = client.post(posted, data=params, headers={"X-Twilio-Signature": twilio.sign(signed, params)})
    assert response.status_code == 200
    assert _calls(session) == 1
    assert validator_calls == ([] if signed == posted else [posted])  # twilio's validator only on a miss


@pytest.mark.parametrize("signature", ["d3Jvbmc=", "ÿÿÿÿ", "x" * 28, " "])
def test_a_wrong_signature_is_403_and_changes_nothing(twilio, session, signature):
    response = twilio.post("/voice/incoming", twilio.call_params(new_sid()), signature=signature)
    assert response.status_code == 403 and b"X-Twilio-Signature" in response.data
    assert _calls(session) == 0


def test_parameters_are_signed_sorted_whatever_their_order_in_the_body(client, twilio, validator_calls):
    params = twilio.call_params(new_sid(), Digits="1")
    signature = twilio.sign(INCOMING, params)
    body = urlencode(sorted(params.items(), reverse=True))
    assert parse(_post_raw(client, INCOMING, body, signature)) is not None
    assert validator_calls == []


def test_repeated_parameters_are_signed_as_twilio_signs_them(client, twilio, session, validator_calls):
    pairs = [*twilio.call_params(new_sid()).items(), ("Tag", "b"), ("Tag", "a"), ("Tag", "b"), ("Empty", "")]
    form = MultiDict(pairs)
    twilio_signature = RequestValidator(AUTH_TOKEN).compute_signature(INCOMING, form)
    assert expected_signature(AUTH_TOKEN, INCOMING, form).decode() == twilio_signature
    assert _post_raw(client, INCOMING, urlencode(pairs), twilio_signature).status_code == 200
    assert validator_calls == []
    every_value = INCOMING + "".join(k + v for k, v in sorted(pairs))  # a signer that keeps the repeated "b"
    assert expected_signature(AUTH_TOKEN, every_value, MultiDict()) != twilio_signature.encode()


def test_a_signature_over_a_changed_value_is_rejected(client, twilio, session):
    pairs = [*twilio.call_params(new_sid()).items(), ("Tag", "a")]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(INCOMING, MultiDict(pairs))
    assert _post_raw(client, INCOMING, urlencode([*pairs, ("Tag", "c")]), signature).status_code == 403
    assert _calls(session) == 0


# --- the body, read once -------------------------------------------------------------------------------

ODD_BODIES = [
    "",
    "&",
    "a",
    "a=",
    "=b",
    "a=1&&b=2&",
    "a+b=c+d",
    "a%2Bb=%26%3D",
    "a=%E2%82%AC&b=%F0%9F%98%80",
    "a=1=2",
    "a=%zz&b=%2",
    "a=1;b=2",
    "a=1&a=2&a=1",
    "From=%2B15125550100&To=a+b&CallSid=%E2%82%AC&From=%2B15125550100&Digits=1%2B",  # remembered decodings
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_a_body_is_parsed_as_urllib_parses_it(body):
    assert parse_form(body) == parse_qsl(body, keep_blank_values=True, encoding="utf-8", errors="strict")


def test_a_call_field_that_is_not_utf8_fails_every_time():
    for _ in range(2):  # its decoding is remembered only when it succeeds
        with pytest.raises(UnicodeDecodeError):
            parse_form("From=%FF%FE")


def test_the_views_read_the_form_as_posted(app, twilio):
    seen = {}

    @app.before_request  # not run for a webhook: checked below
    def _never():
        seen["app hook"] = True

    from ivr.voice import flow

    original = flow.step

    def spy(site, state, event, params, ctx):
        from flask import request

        seen["form"] = request.form.to_dict(flat=False)
        return original(site, state, event, params, ctx)

    flow.step = spy
    try:
        sid = new_sid()
        twilio.post("/voice/incoming", twilio.call_params(sid))
        extra = twilio.call_params(sid, Digits="1") | {"Note": "a+b & c=d é"}
        response = twilio.post("/voice/step/main/language/input", extra)
    finally:
        flow.step = original
    assert response.status_code == 200
    assert seen["form"]["Note"] == ["a+b & c=d é"] and seen["form"]["Digits"] == ["1"]
    assert "app hook" not in seen


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/voice/incoming?x=%00", {}),
        ("/voice/incoming", {"From": "+1512\x00"}),
        ("/voice/incoming", {"Odd\x00Name": "x"}),
        ("/voice/step/ma%00in/language/input", {}),
    ],
)
def test_nul_anywhere_is_400_before_anything_else(twilio, session, path, params):
    response = twilio.post(path, twilio.call_params(new_sid()) | params)
    assert response.status_code == 400 and b"NUL" in response.data
    assert _calls(session) == 0


def test_a_nul_on_a_page_or_the_api_is_still_400(client):
    assert client.post("/login", data={"username": "a\x00", "password": "x"}).status_code == 400
    assert client.get("/api/calls?q=%00").status_code == 400


# --- nothing a webhook does not need -------------------------------------------------------------------


def test_a_webhook_opens_no_session_loads_no_user_and_sets_no_cookie(client, twilio, session, monkeypatch):
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"  # as a browser sends it (CSRF over HTTPS)
    create_user(session, "maria", PASSWORD)
    session.commit()
    assert _login(client, "maria", PASSWORD).status_code == 302  # the client now sends a session cookie

    def no_user(_user_id):
        raise AssertionError("a webhook loaded the signed-in user")

    monkeypatch.setattr(login_manager, "_user_callback", no_user)
    response = twilio.post("/voice/incoming", twilio.call_params(new_sid()))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    refused = twilio.post("/voice/incoming", twilio.call_params(new_sid()), signature="bad")
    assert refused.status_code == 403 and refused.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in refused.headers


def test_pages_keep_their_session_and_csrf(client, session):
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    create_user(session, "maria", PASSWORD)
    session.commit()
    assert (
        client.post("/login", data={"username": "maria", "password": PASSWORD}).status_code == 400
    )  # no CSRF
    signed_in = _login(client, "maria", PASSWORD)
    assert signed_in.status_code == 302 and "Set-Cookie" in signed_in.headers
    page = client.get("/")
    assert page.status_code == 200 and page.headers["Vary"] == "Cookie"


def test_urls_match_as_in_flask_whatever_came_before(app, client):
    """The app remembers how each URL matched: every request still gets view arguments of its own (a URL
    value preprocessor may take some), a rule added since is matched, and a 404 stays a 404."""
    from flask import g, request

    @app.url_value_preprocessor
    def _language(_endpoint, values):
        if values is not None and "lang" in values:
            g.lang = values.pop("lang")

    app.add_url_rule("/t/<lang>/<word>", "said", lambda word: f"{g.lang}:{word}")
    app.add_url_rule("/t/<path:rest>", "rest", lambda rest: rest)
    with app.test_request_context("/t/special"):
        assert request.url_rule.endpoint == "rest"
    app.add_url_rule("/t/special", "special", lambda: "special")
    with app.test_request_context("/t/special"):
        assert request.url_rule.endpoint == "special"
    for _ in range(3):
        assert client.get("/t/es/hola").get_data(as_text=True) == "es:hola"
        assert client.get("/t/special").get_data(as_text=True) == "special"
        assert client.get("/t/a/b/c").get_data(as_text=True) == "a/b/c"
        assert client.post("/t/special").status_code == 405
        assert client.get("/nowhere-at-all").status_code == 404
