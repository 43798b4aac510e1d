"""`ivr user` and `ivr token`: web sign-in accounts and API tokens."""

from __future__ import annotations

import click

from .context import app_context


@click.group()
def user() -> None:
    """Web sign-in accounts."""


def _partner_desk(desk: str | None) -> None:
    """Refuse a --desk that the published site does not have (in an app context)."""
    from ..accounts.access import published_desks
    from ..accounts.users import check_desk

    try:
        check_desk(desk, published_desks() if desk is not None else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--desk") from None


@user.command("create")
@click.argument("username")
@click.password_option(help="The password (asked for when not given).")
@click.option("--desk", help="A partner of this desk: sees only its calls, under its data policy.")
def user_create(username: str, password: str, desk: str | None) -> None:
    """Create a user who can sign in to the web pages (ops, or with --desk a desk's partner)."""
    from ..accounts.users import create_user
    from ..db import session

    with app_context():
        _partner_desk(desk)
        try:
            create_user(session(), username, password, desk)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"user {username} created" + (f", partner of desk {desk}" if desk else ", ops (all desks)"))


@click.group()
def token() -> None:
    """Bearer tokens for the JSON API."""


@token.command("create")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--desk", help="A partner token of this desk: only its calls, under its data policy.")
def token_create(name: str, desk: str | None) -> None:
    """Create an API token; it is shown once, as the last line."""
    from ..accounts.tokens import create_token
    from ..db import session

    with app_context():
        _partner_desk(desk)
        value = create_token(session(), name, desk)
        session().commit()
    scope = f"partner of desk {desk}" if desk else "ops, all desks"
    click.echo(f"API token {name!r} ({scope}) created; it is shown only now:")
    click.echo(value)
