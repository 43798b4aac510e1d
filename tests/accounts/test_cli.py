"""`ivr user` and `ivr token` with roles: create, list, passwd, disable/enable, role; tokens with a role and
an expiry, listed without their value, revoked by id or name; every change in the audit log as
cli:<os user>."""

from __future__ import annotations

import getpass

from sqlalchemy import select

from ivr.cli.main import main
from ivr.models import ApiToken, AuditEntry, User

from ..helpers import not_the_sample_folder

PASSWORD = "correct horse battery"


def _run(runner, *args: str, code: int = 0) -> str:
    result = runner.invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _audit(session) -> list[tuple[str, str, str, str]]:
    session.expire_all()
    query = select(AuditEntry.actor, AuditEntry.address, AuditEntry.action, AuditEntry.target)
    return [
        tuple(row) for row in session.execute(query.where(not_the_sample_folder()).order_by(AuditEntry.id))
    ]


def test_users_get_roles_and_are_listed(runner, env, session):
    assert "created: ops (all desks)" in _run(runner, "user", "create", "olga", "--password", PASSWORD)
    _run(runner, "user", "create", "sam", "--role", "supervisor", "--password", PASSWORD)
    _run(runner, "user", "create", "pia", "--desk", "bpo", "--password", PASSWORD)
    refused = _run(runner, "user", "create", "x", "--role", "partner", "--password", PASSWORD, code=1)
    assert "give the desk (--desk)" in refused
    refused = _run(runner, "user", "create", "x", "--role", "root", "--password", PASSWORD, code=2)
    assert "'root' is not one of 'admin', 'supervisor', 'ops', 'partner'" in refused
    _run(runner, "user", "disable", "olga")
    assert "already disabled" in _run(runner, "user", "disable", "olga", code=1)
    assert "is supervisor now" in _run(runner, "user", "role", "pia", "supervisor")
    assert "no user 'nobody'" in _run(runner, "user", "role", "nobody", "ops", code=1)
    lines = _run(runner, "user", "list").splitlines()
    assert lines[0].split() == ["name", "role", "desk", "disabled", "created"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["olga"][1:3] == ["ops", "-"] and rows["olga"][3].startswith("20")  # disabled: when
    assert rows["pia"][1:4] == ["supervisor", "-", "no"] and rows["sam"][1:4] == ["supervisor", "-", "no"]
    assert session.scalars(select(User.desk).where(User.username == "pia")).one() is None
    me = f"cli:{getpass.getuser()}"
    assert _audit(session) == [
        (me, "cli", "user.create", "olga"),
        (me, "cli", "user.create", "sam"),
        (me, "cli", "user.create", "pia"),
        (me, "cli", "user.disable", "olga"),
        (me, "cli", "user.role", "pia"),
    ]


def test_a_token_has_a_role_expires_and_is_revoked(runner, env, session, client):
    output = _run(runner, "token", "create", "--name", "bi", "--role", "ops", "--expires-days", "30")
    value = output.splitlines()[-1]
    assert "(ops, all desks, expires 20" in output and value.startswith("ivr_")
    auth = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/dnc", headers=auth).status_code == 200
    assert client.post("/api/dnc", json={"phone": "+15125550100"}, headers=auth).status_code == 403
    row = session.scalars(select(ApiToken)).one()
    assert (row.role, row.expires_at is not None, value not in row.token_hash) == ("ops", True, True)

    lines = _run(runner, "token", "list").splitlines()
    assert lines[0].split() == ["id", "name", "role", "desk", "state", "created", "expires"]
    assert lines[1].split()[:5] == [str(row.id), "bi", "ops", "-", "live"] and value not in "".join(lines)
    assert "is revoked" in _run(runner, "token", "revoke", "bi")
    assert client.get("/api/dnc", headers=auth).status_code == 401
    assert _run(runner, "token", "list").splitlines()[1].split()[4] == "revoked"
    assert "already revoked" in _run(runner, "token", "revoke", str(row.id), code=1)
    assert [entry[2:] for entry in _audit(session)] == [("token.create", "bi"), ("token.revoke", "bi")]


def test_two_live_tokens_of_one_name_are_revoked_by_id(runner, env):
    _run(runner, "token", "create", "--name", "bi", "--role", "supervisor")
    _run(runner, "token", "create", "--name", "bi", "--desk", "bpo")
    assert "2 live tokens are named 'bi'" in _run(runner, "token", "revoke", "bi", code=1)
    rows = [line.split()[:5] for line in _run(runner, "token", "list").splitlines()[1:]]
    assert [row[1:] for row in rows] == [["bi", "supervisor", "-", "live"], ["bi", "partner", "bpo", "live"]]
    _run(runner, "token", "revoke", rows[1][0])
    assert "is revoked" in _run(runner, "token", "revoke", "bi")  # the one live token of that name
