"""Accounts and API tokens as services: passwords hashed and checked, tokens shown once and stored hashed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token, digest, token_desk
from ivr.accounts.users import MIN_PASSWORD, check_desk, check_login, create_user
from ivr.flows.errors import NothingPublished
from ivr.models import ApiToken, User

PASSWORD = "correct horse battery"


def test_a_user_signs_in_with_the_right_password_only(session) -> None:
    create_user(session, "ops", PASSWORD)
    session.commit()
    stored = session.scalars(select(User.password_hash).where(User.username == "ops")).one()
    assert PASSWORD not in stored
    assert check_login(session, "ops", PASSWORD) is not None
    assert check_login(session, "ops", PASSWORD + "!") is None
    assert check_login(session, "nobody", PASSWORD) is None


def test_short_passwords_and_taken_names_are_refused(session) -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_PASSWORD} characters"):
        create_user(session, "ops", "x" * (MIN_PASSWORD - 1))
    create_user(session, "ops", PASSWORD)
    session.commit()
    with pytest.raises(ValueError, match="already exists"):
        create_user(session, "ops", PASSWORD)


def test_a_token_is_stored_only_as_its_hash_and_keeps_its_desk(session) -> None:
    ops, partner = create_token(session, "reports"), create_token(session, "acme", "bpo")
    session.commit()
    hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert hashes == {digest(ops), digest(partner)} and not {ops, partner} & hashes
    assert token_desk(session, ops) == (True, None)
    assert token_desk(session, partner) == (True, "bpo")
    assert token_desk(session, ops + "x") == (False, None)


def test_a_partner_desk_must_exist(app) -> None:
    desks = app.extensions["ivr.flows"].published().site.desks
    check_desk(None, None)
    check_desk("bpo", desks)
    with pytest.raises(ValueError, match="'nowhere' is not in the published site"):
        check_desk("nowhere", desks)
    with pytest.raises(NothingPublished):
        check_desk("bpo", None)
