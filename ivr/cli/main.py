"""The `ivr` command: serve, database, flows, users, tokens (and the dialer worker's place)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask

from .. import create_app
from ..config import DEFAULT_FLOWS_DIR, instance_secret
from ..engine import load_folder
from ..engine.loader import SITE_FILE
from ..sim import Agents, Caller, Input, VirtualClock, transcript
from .agents import agent
from .campaigns import register as register_campaigns
from .reports import report


@contextmanager
def _app() -> Iterator[Flask]:
    """The app for one command, in an app context; its database connections are closed afterwards."""
    app = create_app(require_token=False)
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["ivr.db"].engine.dispose()


@click.group()
def main() -> None:
    """ivr: a self-hosted Twilio IVR and call router."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=int(os.environ.get("PORT", "5000")), show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Upgrade the database and serve ivr with gunicorn (a local token is made up if none is set)."""
    from sqlalchemy import select

    from ..db import session
    from ..extensions import flows as flows_store
    from ..migrations.runner import upgrade
    from ..models import User

    with _app() as app:
        os.environ.setdefault("SECRET_KEY", app.config["SECRET_KEY"])
        if not os.environ.get("TWILIO_AUTH_TOKEN"):
            os.environ["TWILIO_AUTH_TOKEN"] = instance_secret(app.instance_path, "twilio_auth_token")
            click.echo(
                f"TWILIO_AUTH_TOKEN is not set: webhooks must be signed with the local token in "
                f"{Path(app.instance_path) / 'twilio_auth_token'}.\n"
                "Set TWILIO_AUTH_TOKEN to your account's auth token before pointing a Twilio number here."
            )
        upgrade(app.config["DATABASE_URL"])
        for problem in flows_store().reload():
            click.echo(f"flows: {problem}", err=True)
        has_users = session().scalars(select(User.id)).first() is not None
    click.echo(f"ivr on http://{host}:{port}/  (Voice URL: /voice/incoming, status callback: /voice/status)")
    if not has_users:
        click.echo("No web user yet: create one with `ivr user create NAME`.")
    args = ["gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers), "--access-logfile", "-"]
    os.execvp(sys.executable, [sys.executable, "-m", *args, "ivr:create_app()"])


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from ..migrations.runner import upgrade

    with _app() as app:
        upgrade(app.config["DATABASE_URL"], revision)
    click.echo("database is up to date")


@main.group()
def flows() -> None:
    """Flow files: validate and publish."""


@flows.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def flows_validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check flow files (or folders) by schema and meaning; exit 1 listing every problem."""
    targets = paths or (Path(os.environ.get("FLOWS_DIR") or DEFAULT_FLOWS_DIR),)
    folders: dict[Path, set[Path] | None] = {}
    for path in targets:
        if path.is_dir():
            folders[path] = None
        elif folders.get(path.parent, set()) is not None:
            folders.setdefault(path.parent, set()).add(path)  # type: ignore[union-attr]
    problems = []
    for folder, only in folders.items():
        wanted = None if only is None else [p for p in only if p.name != SITE_FILE]
        problems += load_folder(folder, only=wanted)[1]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{len(problems)} problem(s)" if problems else "flows are valid")
    sys.exit(1 if problems else 0)


@flows.command("publish")
def flows_publish() -> None:
    """Publish the flows folder now (the service also picks up changes by itself)."""
    from ..extensions import flows as flows_store

    with _app():
        store = flows_store()
        problems = store.reload()
        for problem in problems:
            click.echo(str(problem), err=True)
        if problems:
            sys.exit(1)
        published = store.current()
        assert published is not None  # reload() without problems has just published the folder
        click.echo(f"published version {published.id}")


@main.group()
def user() -> None:
    """Web sign-in accounts."""


def _partner_desk(desk: str | None) -> None:
    """Refuse a --desk that the published site does not have (in an app context)."""
    from ..accounts.auth import check_desk, published_desks

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
    from ..accounts.auth import create_user
    from ..db import session

    with _app():
        _partner_desk(desk)
        try:
            create_user(session(), username, password, desk)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"user {username} created" + (f", partner of desk {desk}" if desk else ", ops (all desks)"))


@main.group()
def token() -> None:
    """Bearer tokens for the JSON API."""


@token.command("create")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--desk", help="A partner token of this desk: only its calls, under its data policy.")
def token_create(name: str, desk: str | None) -> None:
    """Create an API token; it is shown once, as the last line."""
    from ..accounts.auth import create_token
    from ..db import session

    with _app():
        _partner_desk(desk)
        value = create_token(session(), name, desk)
        session().commit()
    scope = f"partner of desk {desk}" if desk else "ops, all desks"
    click.echo(f"API token {name!r} ({scope}) created; it is shown only now:")
    click.echo(value)


class _OrderedScript(click.Command):
    """Keeps the command line, so --press and --say are played in the order they were given."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["raw_args"] = list(args)
        return super().parse_args(ctx, args)


def _script(raw: list[str]) -> list[Input]:
    """--press and --say values in command-line order (both `--press 1` and `--press=1`)."""
    words = [part for word in raw for part in (word.split("=", 1) if word.startswith("--") else [word])]
    steps = []
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--press":
            steps.append(Input(digits=value))
        elif flag == "--say":
            steps.append(Input(speech=value))
    return steps


class _Interactive(Caller):
    """A caller at the keyboard: digits at each prompt (Enter alone is silence; a leading ':' speaks)."""

    def next_input(self) -> Input:
        answer = click.prompt(
            "  your answer (digits, :words, or Enter for silence)", default="", show_default=False
        )
        if answer.startswith(":"):
            return Input(speech=answer[1:].strip())
        return Input(digits=answer.strip())


@main.command(cls=_OrderedScript)
@click.option("--flow", "flow_name", help="Call the first number of this flow.")
@click.option("--to", "to_number", help="The number called (default: the default flow's first number).")
@click.option("--from", "from_number", default="+15125550199", show_default=True, help="The caller's number.")
@click.option("--press", multiple=True, help="Digits for the next prompt (repeat; kept in order with --say).")
@click.option("--say", multiple=True, help="Words for the next prompt (repeat).")
@click.option("--at", "start", help="Simulated start time, ISO 8601 (default: now).")
@click.option(
    "--answer-after", default=30.0, show_default=True, help="Seconds in a queue until an agent answers."
)
@click.option("--talk", default=180.0, show_default=True, help="Seconds an agent talks.")
@click.option("--url", help="Call a running ivr at this base URL instead of in this process.")
@click.option("--json", "as_json", is_flag=True, help="Print the call as JSON.")
def simulate(
    flow_name: str | None,
    to_number: str | None,
    from_number: str,
    press: tuple[str, ...],
    say: tuple[str, ...],
    start: str | None,
    answer_after: float,
    talk: float,
    url: str | None,
    as_json: bool,
) -> None:
    """Place a simulated call and print what the caller hears; exit 1 if the call hit an error."""
    from ..sim.runner import run_simulated_call

    ctx = click.get_current_context()
    steps = _script(ctx.meta.get("raw_args", []))
    caller = Caller.scripted(steps) if steps else _Interactive()
    try:
        moment = datetime.fromisoformat(start) if start else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO 8601 date-time", param_hint="--at") from None
    clock = VirtualClock(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    agents = Agents(answer_after=answer_after, talk_seconds=talk)
    try:
        result, logged = run_simulated_call(flow_name, to_number, from_number, caller, agents, clock, url)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(transcript.as_json(result, logged), indent=2)
        if as_json
        else transcript.text(result, logged)
    )
    failed = not result.ok or bool(logged and logged.get("errors"))
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--profile", "profile_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--calls", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 366), help="Spread over D days.")
@click.option("--url", help="Call a running ivr at this base URL instead of in this process.")
@click.option("--seed", type=int, help="Random seed; with --start, a repeatable run.")
@click.option("--start", help="First day, ISO 8601 date (default: DAYS days ago).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def traffic(  # one parameter per option
    profile_path: Path,
    calls: int,
    days: int,
    url: str | None,
    seed: int | None,
    start: str | None,
    as_json: bool,
) -> None:
    """Generate CALLS simulated calls from a profile, over the last DAYS days, into the call log."""
    from ..sim.profile import ProfileError, load_profile
    from ..sim.runner import run_profile

    try:
        profile = load_profile(profile_path)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        first = datetime.fromisoformat(start) if start else datetime.now(UTC) - timedelta(days=days)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO 8601 date", param_hint="--start") from None
    begin = (first if first.tzinfo else first.replace(tzinfo=UTC)).replace(minute=0, second=0, microsecond=0)
    with click.progressbar(length=calls, label="calls", file=sys.stderr) as bar:
        try:
            result = run_profile(profile, calls, days, VirtualClock(begin), url, seed, bar.update)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        agents = f"{summary['agent_calls']} agent calls"
        click.echo(f"{summary['calls']} calls (and {agents}), {summary['errors']} with errors")
        for queue, row in sorted(summary["queues"].items()):
            click.echo(
                f"  {queue}: offered {row['offered']:.0f}, answered {row['bridged']:.0f}, "
                f"abandoned {row['hangup']:.0f}, left for voicemail {row['leave']:.0f}, "
                f"mean wait of answered {row['mean_wait_answered']} s"
            )
    sys.exit(1 if summary["errors"] else 0)


@main.group()
def dialer() -> None:
    """The outbound dialer worker."""


@dialer.command("run")
def dialer_run() -> None:
    """Place the calls of running campaigns until SIGTERM (the Procfile's worker; README: Dialer worker)."""
    from .dialer import run

    with _app() as app:
        run(app)


main.add_command(agent)  # ivr agent: ivr/cli_agent.py
register_campaigns(main)  # ivr campaign, ivr dnc: ivr/cli_campaign.py
main.add_command(report)  # ivr report: ivr/cli_report.py

if __name__ == "__main__":
    main()
