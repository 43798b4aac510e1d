"""`ivr journal status | replay | prune`: the local journal of webhooks answered while the database was
unavailable, replayed into the call log, and the answers kept for repeated webhooks (docs/call-log.md)."""

from __future__ import annotations

from datetime import timedelta

import click

from .context import app_context


@click.group()
def journal() -> None:
    """The journal of webhooks answered without the database."""


@journal.command("status")
def status_command() -> None:
    """Records waiting to be replayed, the journal's size and limit, records dropped or set aside."""
    from ..voice.journal_replay import journal as journal_of

    with app_context() as app:
        found = journal_of(app).status()
    click.echo(f"journal: {found.path}")
    click.echo(f"waiting: {found.records} record(s), {found.bytes} of {found.max_bytes} bytes")
    click.echo(f"dropped (journal full): {found.dropped}")
    click.echo(f"set aside (could not be replayed): {found.failed}")


@journal.command("replay")
def replay_command() -> None:
    """Replay the waiting records into the call log now (each once, oldest first); exit 1 if the database
    fails or another process is replaying."""
    from ..calls.logsafe import describe
    from ..voice.journal_replay import replay

    with app_context() as app:
        try:
            done = replay(app)
        except Exception as exc:
            raise click.ClickException(f"replay stopped, records kept for later: {describe(exc)}") from None
    if done.busy:
        raise click.ClickException("another process is replaying the journal; try again in a moment")
    click.echo(f"replayed {done.applied} record(s); {done.repeated} replayed before; {done.failed} set aside")


@journal.command("prune")
@click.option("--hours", type=click.FloatRange(min=0), default=48.0, show_default=True,
              help="Forget answers kept for repeated webhooks longer than this.")  # fmt: skip
def prune_command(hours: float) -> None:
    """Forget the answers kept for repeated webhooks after HOURS (Twilio retries within seconds)."""
    from ..db import session, utcnow
    from ..voice.repeats import prune

    with app_context():
        count = prune(session(), timedelta(hours=hours), utcnow())
        session().commit()
    click.echo(f"forgot {count} kept answer(s)")
