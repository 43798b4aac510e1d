"""Sign-in throttling: wrong passwords lock the username typed (known or not, alike) and the address, locks
end by themselves or when an admin lifts them (Accounts page, `ivr user unlock`), an unknown username costs a
hash like a known one, and a sign-in never waits for a password-check slot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import html
from sqlalchemy import func, select

from ivr.accounts import decoy
from ivr.accounts.signins import ACCOUNT_DAY, ADDRESS, address_key
from ivr.accounts.throttle import fail
from ivr.accounts.users import check_login, create_user
from ivr.cli.main import main
from ivr.db import utcnow
from ivr.models import AuditEntry, Throttle
from ivr.web.sign_in_slots import slot

from ..helpers import not_the_sample_folder
from ..web.test_web import PASSWORD, _csrf, _login

WRONG = "not the password"
LOCKED = "Too many failed sign-ins with this username or from this address: signing in is locked"


@pytest.fixture
def client(client):
    """A browser-like client: it sends a Referer, which CSRF checks over HTTPS need."""
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


@pytest.fixture
def maria(session) -> str:
    create_user(session, "maria", PASSWORD)
    session.commit()
    return "maria"


@pytest.fixture
def clock(monkeypatch):
    """The sign-in page's clock, moved on with clock.move(minutes=...)."""

    class Clock:
        now = utcnow()

        def move(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    found = Clock()
    monkeypatch.setattr("ivr.web.sign_in.utcnow", lambda: found.now)
    return found


def _said(response) -> str:
    return " ".join(html.fromstring(response.data).xpath("string(//p[@class='flash'])").split())


def _signed_in(response) -> bool:
    return response.status_code == 302 and not response.headers["Location"].startswith("/login")


def _audit(session, action: str) -> list[tuple[str, str, str, dict]]:
    session.expire_all()
    query = select(AuditEntry.actor, AuditEntry.address, AuditEntry.target, AuditEntry.details)
    query = query.where(AuditEntry.action == action, not_the_sample_folder()).order_by(AuditEntry.id)
    return [tuple(row) for row in session.execute(query)]


def test_an_unknown_username_costs_a_hash_like_a_known_one(session, maria, monkeypatch):
    checked = []

    real = decoy.check_password_hash

    def counting(stored: str, secret: str) -> bool:
        checked.append(stored)
        return real(stored, secret)

    monkeypatch.setattr(decoy, "check_password_hash", counting)
    assert check_login(session, "nobody", WRONG) is None
    assert checked == [decoy.decoy_hash()]
    assert check_login(session, "maria", WRONG) is None
    assert check_login(session, "maria", PASSWORD) is not None
    assert len(checked) == 3
    real_method = checked[1].split("$")[0]
    assert decoy.decoy_hash().split("$")[0] == real_method  # the same method and cost as a real password


def test_five_wrong_passwords_lock_a_username_known_or_not_alike(client, session, maria, clock):
    for name in ("maria", "nobody"):
        answers = [_login(client, name, WRONG) for _ in range(5)]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
        assert [_said(r) for r in answers[:4]] == ["Wrong username or password."] * 4
        assert _said(answers[4]).startswith(LOCKED)
        assert "An admin can lift the lock sooner." in _said(answers[4])
    refused = _login(client, "maria", PASSWORD)  # the right password: still locked
    assert refused.status_code == 429 and _said(refused).startswith(LOCKED) and not _signed_in(refused)
    assert _said(_login(client, "nobody", PASSWORD)) == _said(refused)
    clock.move(minutes=16)
    assert _signed_in(_login(client, "maria", PASSWORD))
    locks = _audit(session, "user.lock")
    assert [(actor, target, details["scope"]) for actor, _, target, details in locks] == [
        ("anonymous", "maria", "sign_in.account"), ("anonymous", "nobody", "sign_in.account")
    ]  # fmt: skip


def test_a_right_password_forgets_the_failures_of_the_username(client, session, maria, clock):
    for _ in range(4):
        _login(client, "maria", WRONG)
    assert _signed_in(_login(client, "maria", PASSWORD))
    client.post("/logout", data={"csrf_token": _csrf(client.get("/").data)})
    answers = [_login(client, "maria", WRONG) for _ in range(4)]
    assert {r.status_code for r in answers} == {200}  # four more tries, not one


def test_twenty_failures_in_a_day_lock_until_an_admin_lifts_it(client, session, maria, clock, runner, env):
    for _ in range(ACCOUNT_DAY.limit - 1):
        fail(session, ACCOUNT_DAY, "maria", clock.now)
    session.commit()
    answer = _login(client, "maria", WRONG)
    assert _said(answer) == f"{LOCKED} until an admin lifts it. An admin can lift the lock sooner."
    clock.move(days=3)
    assert _login(client, "maria", PASSWORD).status_code == 429
    listed = runner.invoke(main, ["user", "locks"])
    assert listed.exit_code == 0 and "account  maria  until lifted" in listed.output
    lifted = runner.invoke(main, ["user", "unlock", "maria"])
    assert lifted.exit_code == 0, lifted.output
    assert lifted.output.startswith("sign-in lock on maria lifted")
    assert _signed_in(_login(client, "maria", PASSWORD))
    [(actor, address, target, details)] = _audit(session, "user.unlock")
    assert (actor.startswith("cli:"), address, target) == (True, "cli", "maria")
    assert details["scopes"] == ["sign_in.account", "sign_in.account.day"]
    again = runner.invoke(main, ["user", "unlock", "maria"])
    assert again.exit_code == 1 and "no sign-in lock on maria" in again.output


def test_an_address_is_locked_after_thirty_failures_whoever_it_tries(
    client, session, maria, clock, runner, env
):
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(ADDRESS.limit - 1):
        fail(session, ADDRESS, "203.0.113.9", clock.now)
    session.commit()
    assert _said(_login(client, "someone", WRONG)).startswith(LOCKED)
    assert _login(client, "maria", PASSWORD).status_code == 429  # another username, the same address
    elsewhere = client.application.test_client()
    elsewhere.environ_base.update(HTTP_REFERER="https://ivr.test/", REMOTE_ADDR="198.51.100.7")
    assert _signed_in(_login(elsewhere, "maria", PASSWORD))
    [lock] = _audit(session, "user.lock")
    assert lock[1:3] == ("203.0.113.9", "203.0.113.9") and lock[3]["scope"] == "sign_in.address"
    both = runner.invoke(main, ["user", "unlock", "maria", "--address", "203.0.113.9"])
    assert both.exit_code == 2 and "give a USERNAME or --address IP" in both.output
    lifted = runner.invoke(main, ["user", "unlock", "--address", "203.0.113.9"])
    assert lifted.exit_code == 0, lifted.output
    assert _signed_in(_login(client, "maria", PASSWORD))


def test_ipv6_addresses_are_counted_by_their_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_key(None) == address_key("junk") == "unknown"


def test_an_admin_lifts_a_lock_on_the_accounts_page(client, session, clock):
    create_user(session, "root", PASSWORD, role="admin")
    for _ in range(5):
        fail(session, ADDRESS, "203.0.113.9", clock.now)
    for _ in range(ACCOUNT_DAY.limit):
        fail(session, ACCOUNT_DAY, "maria", clock.now)
    session.commit()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.1"
    assert _signed_in(_login(client, "root", PASSWORD))
    page = html.fromstring(client.get("/accounts").data)
    rows = page.xpath("//table[contains(@class,'locks')]/tbody/tr[@data-lock]")
    assert [(r.get("data-lock"), r.xpath("string(td[@class='until'])")) for r in rows] == [
        ("maria", "until lifted")
    ]
    form = rows[0].xpath(".//form")[0]
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    assert fields["kind"] == "account" and fields["key"] == "maria"
    done = client.post(form.get("action"), data=fields)
    assert done.status_code == 302 and done.headers["Location"] == "/accounts"
    after = html.fromstring(client.get("/accounts").data)
    assert after.xpath("//table[contains(@class,'locks')]/tbody/tr[@data-lock]") == []
    assert "Lifted the sign-in lock on maria." in after.xpath("string(//p[@class='flash'])")
    assert _audit(session, "user.unlock") == [
        ("root", "198.51.100.1", "maria", {"scopes": ["sign_in.account.day"]})
    ]  # fmt: skip
    nothing = client.post(form.get("action"), data=fields)
    assert "No sign-in lock on maria" in html.fromstring(client.get(nothing.headers["Location"]).data).xpath(
        "string(//p[@class='flash'])"
    )
    assert client.post(form.get("action"), data=fields | {"kind": "everything"}).status_code == 400


def test_a_sign_in_without_a_free_slot_is_answered_at_once(app, client, session, maria, monkeypatch):
    checked = []
    monkeypatch.setattr(decoy, "check_password_hash", lambda stored, secret: checked.append(stored))
    with slot(app.config["SIGN_IN_LOCK_DIR"], app.config["SIGN_IN_SLOTS"]) as held:
        assert held
        busy = _login(client, "maria", PASSWORD)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert _said(busy) == "Many people are signing in at this moment: try again in a second."
    assert checked == []  # no password was checked, nothing was counted
    assert session.scalar(select(func.count()).select_from(Throttle)) == 0
    monkeypatch.undo()
    assert _signed_in(_login(client, "maria", PASSWORD))


def test_slots_are_shared_and_taken_without_waiting(tmp_path, caplog):
    with slot(str(tmp_path), 2) as first, slot(str(tmp_path), 2) as second, slot(str(tmp_path), 2) as third:
        assert (first, second, third) == (True, True, False)
    with slot(str(tmp_path), 2) as again:
        assert again  # released when the block ends
    with slot(str(tmp_path / "not there"), 1) as unlimited:
        assert unlimited  # no folder to lock in: sign-ins still work, without a limit, and it is logged
    assert "sign-in slots off" in caplog.text
