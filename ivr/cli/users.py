"""`ivr user` and `ivr token`: web sign-in accounts and API tokens, with roles (docs/accounts.md). Every
change is written to the audit log as done by cli:<os user>."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import click

from ..accounts.roles import ROLES
from .context import app_context

ROLE_HELP = "admin, supervisor, ops or partner (docs/accounts.md); default ops, or partner with --desk"


@contextmanager
def _unit_of_work() -> Iterator[Any]:
    """An app context and its session; ValueError and LookupError become the command's error (exit 1)."""
    from ..db import session

    with app_context():
        try:
            yield session()
        except (ValueError, LookupError) as exc:
            session().rollback()
            raise click.ClickException(str(exc)) from None


def _audit(s: Any, action: str, target: str, **details: Any) -> None:
    """Write the change to the audit log (committed with it)."""
    from ..accounts.audit import cli_actor, record
    from ..db import utcnow

    record(s, cli_actor(), action, target, utcnow(), **details)


def _partner_desk(desk: str | None) -> None:
    """Refuse a --desk that the published site does not have (in an app context)."""
    from ..accounts.access import published_desks
    from ..accounts.users import check_desk

    try:
        check_desk(desk, published_desks() if desk is not None else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--desk") from None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Columns as wide as their widest value (an empty value is shown as "-", so columns split on spaces)."""
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


role_option: Callable[..., Any] = click.option("--role", type=click.Choice(ROLES), help=ROLE_HELP)
desk_option: Callable[..., Any] = click.option(
    "--desk", help="A partner of this desk: sees only its calls, under its data policy."
)


@click.group()
def user() -> None:
    """Web sign-in accounts."""


@user.command("create")
@click.argument("username")
@click.password_option(help="The password (asked for when not given).")
@role_option
@desk_option
def user_create(username: str, password: str, role: str | None, desk: str | None) -> None:
    """Create a user who can sign in to the web pages, with a role."""
    from ..accounts.users import create_user

    with _unit_of_work() as s:
        _partner_desk(desk)
        created = create_user(s, username, password, desk, role)
        _audit(s, "user.create", username, role=created.role, desk=desk)
        s.commit()
    scope = f", partner of desk {desk}" if desk else " (all desks)"
    click.echo(f"user {username} created: {created.role}{scope}")


@user.command("list")
def user_list() -> None:
    """Every user: name, role, desk, whether disabled, when created."""
    from ..accounts.users import list_users

    with _unit_of_work() as s:
        rows = [
            (u.username, u.role, u.desk or "-", _when(u.disabled_at) or "no", _when(u.created_at))
            for u in list_users(s)
        ]
    _table(("name", "role", "desk", "disabled", "created"), rows)


@user.command("passwd")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
def user_passwd(username: str, password: str) -> None:
    """Give a user a new password; their open sessions end."""
    from ..accounts.users import set_password

    with _unit_of_work() as s:
        set_password(s, username, password)
        _audit(s, "user.passwd", username)
        s.commit()
    click.echo(f"user {username} has a new password; their sessions have ended")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Stop a user from signing in; their open sessions end at once."""
    from ..accounts.users import disable_user
    from ..db import utcnow

    with _unit_of_work() as s:
        disable_user(s, username, utcnow())
        _audit(s, "user.disable", username)
        s.commit()
    click.echo(f"user {username} is disabled")


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Let a disabled user sign in again."""
    from ..accounts.users import enable_user

    with _unit_of_work() as s:
        enable_user(s, username)
        _audit(s, "user.enable", username)
        s.commit()
    click.echo(f"user {username} is enabled")


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@desk_option
def user_role(username: str, role: str, desk: str | None) -> None:
    """Give a user another role (partner needs --desk)."""
    from ..accounts.users import find_user, set_role

    with _unit_of_work() as s:
        _partner_desk(desk)
        before = find_user(s, username).role
        set_role(s, username, role, desk)
        _audit(s, "user.role", username, before=before, role=role, desk=desk)
        s.commit()
    click.echo(f"user {username} is {role} now" + (f", partner of desk {desk}" if desk else ""))


@user.command("unlock")
@click.argument("username", required=False)
@click.option("--address", help="Lift the lock on this client address (IPv6: its /64) instead.")
def user_unlock(username: str | None, address: str | None) -> None:
    """Lift a sign-in lock: a username's (known or not), or an address's with --address."""
    from ..accounts.signins import unlock_account, unlock_address

    if (username is None) == (address is None):
        raise click.UsageError("give a USERNAME or --address IP (one of them)")
    target = username if username is not None else address or ""
    with _unit_of_work() as s:
        lifted = unlock_account(s, target) if username is not None else unlock_address(s, target)
        if not lifted:
            raise click.ClickException(f"no sign-in lock on {target}")
        _audit(s, "user.unlock", target, scopes=lifted)
        s.commit()
    click.echo(f"sign-in lock on {target} lifted ({', '.join(lifted)})")


def _lock_row(lock: Any) -> tuple[str, ...]:
    """A throttles row as `ivr user locks` lists it."""
    from ..accounts.signins import LOCK_KINDS
    from ..accounts.throttle import FOREVER

    until = "until lifted" if lock.locked_until == FOREVER else _when(lock.locked_until)
    return (LOCK_KINDS[lock.scope], lock.key, until, _when(lock.last_failed_at))


@user.command("locks")
def user_locks() -> None:
    """The sign-in locks in force: what is locked (a username or an address), until when, last failure."""
    from ..accounts.signins import sign_in_locks
    from ..db import utcnow

    with _unit_of_work() as s:
        rows = [_lock_row(lock) for lock in sign_in_locks(s, utcnow())]
    if not rows:
        click.echo("no sign-in is locked")
        return
    _table(("locked", "what", "until", "last failure"), rows)


@click.group()
def token() -> None:
    """Bearer tokens for the JSON API."""


@token.command("create")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@role_option
@desk_option
@click.option(
    "--expires-days", type=click.IntRange(min=1), help="Valid this many days (default: until revoked)."
)
def token_create(name: str, role: str | None, desk: str | None, expires_days: int | None) -> None:
    """Create an API token with a role; it is shown once, as the last line."""
    from ..accounts.tokens import issue_token
    from ..db import utcnow

    expires_at = utcnow() + timedelta(days=expires_days) if expires_days is not None else None
    with _unit_of_work() as s:
        _partner_desk(desk)
        row, value = issue_token(s, name, desk, role, expires_at)
        details = {"id": row.id, "role": row.role, "desk": desk, "expires_at": _when(expires_at) or None}
        _audit(s, "token.create", name, **details)
        s.commit()
        token_id, token_role = row.id, row.role
    scope = f"partner of desk {desk}" if desk else f"{token_role}, all desks"
    until = f", expires {_when(expires_at)}" if expires_at else ""
    click.echo(f"API token {token_id} {name!r} ({scope}{until}) created; it is shown only now:")
    click.echo(value)


@token.command("list")
def token_list() -> None:
    """Every token (never its value): id, name, role, desk, state, created, expires."""
    from ..accounts.tokens import list_tokens, token_state
    from ..db import utcnow

    now = utcnow()
    with _unit_of_work() as s:
        rows = [
            (str(t.id), t.name, t.role, t.desk or "-", token_state(t, now), _when(t.created_at),
             _when(t.expires_at) or "never")
            for t in list_tokens(s)
        ]  # fmt: skip
    _table(("id", "name", "role", "desk", "state", "created", "expires"), rows)


@token.command("revoke")
@click.argument("ref", metavar="ID|NAME")
def token_revoke(ref: str) -> None:
    """Revoke a token by its id, or by its name when one live token has it; it stops working at once."""
    from ..accounts.tokens import revoke_token
    from ..db import utcnow

    with _unit_of_work() as s:
        row = revoke_token(s, ref, utcnow())
        _audit(s, "token.revoke", row.name, id=row.id)
        s.commit()
        revoked = f"token {row.id} ({row.name})"
    click.echo(f"{revoked} is revoked")
