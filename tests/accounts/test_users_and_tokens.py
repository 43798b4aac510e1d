"""Accounts and API tokens as services: passwords hashed and checked, least privilege by default, sessions
ended by a password change or disabling, tokens shown once, stored hashed, expiring and revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.accounts.tokens import create_token, digest, find_token, issue_token, revoke_token, token_state
from ivr.accounts.users import (
    MIN_PASSWORD,
    check_desk,
    check_login,
    create_user,
    disable_user,
    enable_user,
    set_password,
    set_role,
)
from ivr.flows.errors import NothingPublished
from ivr.models import ApiToken, User

from ..conftest import OPEN

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


@pytest.mark.parametrize(
    ("desk", "role", "expected"),
    [
        (None, None, "ops"),  # least privilege: never admin by default
        ("bpo", None, "partner"),
        (None, "admin", "admin"),
        (None, "supervisor", "supervisor"),
        ("bpo", "partner", "partner"),
        (None, "partner", "give the desk"),
        ("bpo", "ops", "only a partner has a desk"),
        (None, "root", "unknown role 'root'"),
    ],
)
def test_roles_default_to_least_privilege_and_fit_the_desk(session, desk, role, expected) -> None:
    if expected in ("ops", "partner", "admin", "supervisor"):
        assert create_user(session, "someone", PASSWORD, desk, role).role == expected
        assert session.get(ApiToken, issue_token(session, "t", desk, role)[0].id).role == expected
        return
    with pytest.raises(ValueError, match=expected):
        create_user(session, "someone", PASSWORD, desk, role)
    with pytest.raises(ValueError, match=expected):
        create_token(session, "t", desk, role)


def test_a_new_password_or_disabling_ends_the_sessions(session) -> None:
    user = create_user(session, "ops", PASSWORD)
    first = user.session_version
    set_password(session, "ops", PASSWORD + " again")
    assert user.session_version == first + 1
    assert check_login(session, "ops", PASSWORD) is None
    disable_user(session, "ops", OPEN)
    assert (user.disabled_at, user.session_version) == (OPEN, first + 2)
    with pytest.raises(ValueError, match="already disabled"):
        disable_user(session, "ops", OPEN)
    enable_user(session, "ops")
    assert user.disabled_at is None
    with pytest.raises(ValueError, match="not disabled"):
        enable_user(session, "ops")
    with pytest.raises(LookupError, match="no user 'nobody'"):
        set_password(session, "nobody", PASSWORD)


def test_a_role_change_moves_the_desk_with_it(session) -> None:
    user = create_user(session, "maria", PASSWORD, "bpo")
    set_role(session, "maria", "supervisor")
    assert (user.role, user.desk) == ("supervisor", None)
    set_role(session, "maria", "partner", "local")
    assert (user.role, user.desk) == ("partner", "local")
    with pytest.raises(ValueError, match="give the desk"):
        set_role(session, "maria", "partner")


def test_a_token_is_stored_only_as_its_hash_and_keeps_its_desk_and_role(session) -> None:
    ops, partner = create_token(session, "reports"), create_token(session, "acme", "bpo")
    session.commit()
    hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert hashes == {digest(ops), digest(partner)} and not {ops, partner} & hashes
    found = find_token(session, ops, OPEN)
    assert found is not None and (found.role, found.desk) == ("ops", None)
    found = find_token(session, partner, OPEN)
    assert found is not None and (found.role, found.desk) == ("partner", "bpo")
    assert find_token(session, ops + "x", OPEN) is None


def test_a_token_stops_working_when_it_expires_or_is_revoked(session) -> None:
    row, value = issue_token(session, "nightly", role="ops", expires_at=OPEN + timedelta(days=1))
    assert find_token(session, value, OPEN) is row and token_state(row, OPEN) == "live"
    later = OPEN + timedelta(days=1)
    assert find_token(session, value, later) is None and token_state(row, later) == "expired"
    other, other_value = issue_token(session, "bi", role="supervisor")
    assert revoke_token(session, "bi", OPEN) is other
    assert find_token(session, other_value, OPEN) is None and token_state(other, OPEN) == "revoked"
    with pytest.raises(ValueError, match="already revoked"):
        revoke_token(session, str(other.id), OPEN)
    with pytest.raises(LookupError, match="no live token named 'bi'"):
        revoke_token(session, "bi", OPEN)


def test_a_name_two_live_tokens_share_is_refused(session) -> None:
    first, _ = issue_token(session, "bi")
    second, _ = issue_token(session, "bi")
    with pytest.raises(ValueError, match=f"ids {first.id}, {second.id}"):
        revoke_token(session, "bi", OPEN)
    assert revoke_token(session, str(second.id), OPEN) is second
    assert first.revoked_at is None


def test_a_partner_desk_must_exist(app) -> None:
    desks = app.extensions["ivr.flows"].published().site.desks
    check_desk(None, None)
    check_desk("bpo", desks)
    with pytest.raises(ValueError, match="'nowhere' is not in the published site"):
        check_desk("nowhere", desks)
    with pytest.raises(NothingPublished):
        check_desk("bpo", None)
