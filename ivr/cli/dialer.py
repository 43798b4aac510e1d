"""`ivr dialer run`: the worker process of the Procfile's `worker:` line."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click
from flask import Flask

from .context import app_context


def run(app: Flask) -> None:
    """Run the dialer on the app's database and settings until SIGTERM or SIGINT."""
    from ..dialer.lease import AnotherWorker, only_worker  # here: other commands need no worker code
    from ..dialer.rest import TwilioRest
    from ..dialer.worker import Settings, Worker

    try:
        settings = Settings.from_config(app.config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # not every request's headers
    sys.setswitchinterval(0.001)  # a sender thread due at its slot gets the interpreter within 1 ms
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    rest = TwilioRest(settings.account_sid, settings.auth_token, settings.api_base_url)
    engine = app.extensions["ivr.db"].engine
    click.echo(
        f"ivr dialer: {settings.cps:g} calls per second through {settings.api_base_url}, "
        f"webhooks at {settings.public_base_url}; stop with SIGTERM"
    )
    try:
        with only_worker(engine):
            Worker(settings, engine, rest, stop=stop).run()
    except AnotherWorker as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("ivr dialer: stopped")


@click.group()
def dialer() -> None:
    """The outbound dialer worker."""


@dialer.command("run")
def dialer_run() -> None:
    """Place the calls of running campaigns until SIGTERM (the Procfile's worker; README: Dialer worker)."""
    with app_context() as app:
        run(app)
