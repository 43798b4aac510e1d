"""`ivr serve` (the local try-out) and `ivr db upgrade` (the Procfile's release step)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..config import instance_secret, short_secret_key
from .context import app_context

GUNICORN_APP = "ivr:create_app()"  # what gunicorn loads: the app factory, called with the environment


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=int(os.environ.get("PORT", "5000")), show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Upgrade the database, publish the flows folder and serve ivr with gunicorn, watching the folder
    (FLOWS_WATCH=1 unless set; a local token is made up if none is set)."""
    from sqlalchemy import select

    from ..db import session
    from ..extensions import flows
    from ..migrations.runner import upgrade
    from ..models import User

    os.environ.setdefault("FLOWS_WATCH", "1")  # a local try-out publishes the folder as it is edited
    with app_context() as app:
        os.environ.setdefault("SECRET_KEY", app.config["SECRET_KEY"])
        if short := short_secret_key(os.environ["SECRET_KEY"]):  # the app gunicorn loads would refuse it
            raise click.ClickException(short)
        if not os.environ.get("TWILIO_AUTH_TOKEN"):
            os.environ["TWILIO_AUTH_TOKEN"] = instance_secret(app.instance_path, "twilio_auth_token")
            # no real Twilio can sign with a made-up token: let `ivr simulate --url --at` set a call's time
            os.environ.setdefault("IVR_SIMULATED_TIME", "1")
            click.echo(
                f"TWILIO_AUTH_TOKEN is not set: webhooks must be signed with the local token in "
                f"{Path(app.instance_path) / 'twilio_auth_token'} (`ivr simulate --url` uses it).\n"
                "Set TWILIO_AUTH_TOKEN to your account's auth token before pointing a Twilio number here."
            )
        upgrade(app.config["DATABASE_URL"])
        for problem in flows().reload():
            click.echo(f"flows: {problem}", err=True)
        has_users = session().scalars(select(User.id)).first() is not None
    click.echo(f"ivr on http://{host}:{port}/  (Voice URL: /voice/incoming, status callback: /voice/status)")
    if not has_users:
        click.echo("No web user yet: create one with `ivr user create NAME --role admin`.")
    args = ["gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers), "--access-logfile", "-"]
    os.execvp(sys.executable, [sys.executable, "-m", *args, GUNICORN_APP])


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from ..migrations.runner import upgrade

    with app_context() as app:
        upgrade(app.config["DATABASE_URL"], revision)
    click.echo("database is up to date")
