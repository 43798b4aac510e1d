"""Error pages for people: the header, what went wrong and a way back; /api/ and /voice/ keep their own."""

from __future__ import annotations

from lxml import html

from ivr.accounts.users import create_user

from .test_web import PASSWORD, _login


def _page(response):
    page = html.fromstring(response.data)
    return page, page.xpath("string(//main//h1)"), page.xpath("//main//p[@class='ways-back']/a")


def test_an_unknown_page_is_a_styled_404_with_the_header_and_ways_back(ops):
    response = ops.get("/no/such/page", headers={"Referer": "https://ivr.test/campaigns/"})
    assert response.status_code == 404
    assert response.content_type == "text/html; charset=utf-8"
    page, title, links = _page(response)
    assert title == "Page not found"
    assert page.xpath("string(//p[@class='status'])") == "Error 404 · Not Found"
    assert page.xpath("//p[@class='message']") == []  # werkzeug's stock wording is not repeated
    assert page.xpath("string(//p[@class='hint'])").startswith("The address may be mistyped")
    assert page.xpath("//header//a[text()='Calls']") and page.xpath("//header//button[text()='Sign out']")
    assert [(a.text_content().strip(), a.get("href")) for a in links] == [
        ("← Back to the previous page", "/campaigns/"),
        ("Go to the call list", "/"),
    ]
    elsewhere = ops.get("/no/such/page", headers={"Referer": "https://evil.example/x"})
    assert [a.get("href") for a in _page(elsewhere)[2]] == ["/"]  # back only to this site
    for sneaky in ("https://ivr.test//evil.example/x", "https://ivr.test/\\evil.example/x"):
        response = ops.get("/no/such/page", headers={"Referer": sneaky})
        assert [a.get("href") for a in _page(response)[2]] == ["/"]  # //host would be another site


def test_signed_out_the_way_back_is_signing_in(client):
    page, title, links = _page(client.get("/nosuch", headers={"Referer": ""}))
    assert title == "Page not found"
    assert [(a.text_content(), a.get("href")) for a in links] == [("Sign in", "/login")]
    assert page.xpath("//header//button") == []


def test_a_partner_on_a_page_of_other_roles_gets_a_styled_403_saying_why(client, session):
    create_user(session, "partner", PASSWORD, "bpo")
    session.commit()
    assert _login(client, "partner", PASSWORD).status_code == 302
    response = client.get("/campaigns/")
    assert response.status_code == 403
    page, title, _ = _page(response)
    assert title == "Not for this account"
    assert page.xpath("string(//p[@class='message'])") == (
        "The partner role may not see campaigns (it needs the view_campaigns permission)."
    )
    assert page.xpath("//header//span[contains(@class, 'partner')]")


def test_a_bad_request_and_a_wrong_method_are_styled_too(ops):
    bad = ops.get("/calls.csv?since=someday")
    assert bad.status_code == 400
    page, title, _ = _page(bad)
    assert title == "That request did not make sense"
    assert page.xpath("string(//p[@class='message'])").startswith("since")
    wrong = ops.get("/logout")
    assert wrong.status_code == 405
    assert set(wrong.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}  # the error's own headers kept
    assert _page(wrong)[1] == "Not a way to use this page"


def test_api_and_voice_errors_are_not_pages(client):
    for path in ("/api/nosuch", "/api/calls", "/voice/nosuch", "/voice/incoming"):
        response = client.get(path)
        assert response.status_code in (401, 404, 405), path
        assert b"ways-back" not in response.data and b"<header>" not in response.data, path
