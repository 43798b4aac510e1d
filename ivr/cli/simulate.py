"""`ivr simulate` (one call) and `ivr traffic` (many calls from a profile) through the carrier simulator."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ..sim import Agents, Caller, Input, VirtualClock, transcript


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
    """A caller at the keyboard: digits at each prompt (Enter alone is silence; a leading ':' speaks).

    At the end of the input (Ctrl-D, or a script piped in), the caller stays silent from then on, so the
    call still ends as the flow ends it and its log is complete.
    """

    ended = False

    def next_input(self) -> Input:
        if self.ended:
            return Input()
        try:
            answer = click.prompt(
                "  your answer (digits, :words, or Enter for silence)", default="", show_default=False
            )
        except click.Abort:
            self.ended = True
            click.echo("\n  (no more answers: the caller stays silent from here on)", err=True)
            return Input()
        if answer.startswith(":"):
            return Input(speech=answer[1:].strip())
        return Input(digits=answer.strip())


@click.command(cls=_OrderedScript)
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
    """Place a simulated call and print what the caller hears; exit 1 if the call hit an error.

    Without --press or --say it asks at each prompt, after showing what the caller has heard so far.
    """
    from ..sim.runner import run_simulated_call, server_token

    ctx = click.get_current_context()
    steps = _script(ctx.meta.get("raw_args", []))
    try:
        moment = datetime.fromisoformat(start) if start else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO 8601 date-time", param_hint="--at") from None
    clock = VirtualClock(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    agents = Agents(answer_after=answer_after, talk_seconds=talk)
    live = not steps  # a person answers: each line is shown as it happens, so the prompt comes first
    try:
        if url:
            note = server_token()[1]
            if note:
                click.echo(note, err=True)
        result, logged = run_simulated_call(
            flow_name,
            to_number,
            from_number,
            _Interactive() if live else Caller.scripted(steps),
            agents,
            clock,
            url,
            simulated_time=start is not None,
            watch=(lambda event: click.echo(transcript.line(event), err=as_json)) if live else None,
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(transcript.as_json(result, logged), indent=2))
    else:
        click.echo(transcript.summary(result, logged) if live else transcript.text(result, logged))
    failed = not result.ok or bool(logged and logged.get("errors"))
    sys.exit(1 if failed else 0)


@click.command()
@click.option("--profile", "profile_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--calls", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 366), help="Spread over D days.")
@click.option("--url", help="Call a running ivr at this base URL instead of in this process.")
@click.option("--seed", type=int, help="Random seed; with --start, a repeatable run.")
@click.option("--start", help="First day, ISO 8601 date (default: DAYS days ago).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes (in process only): split the run at quiet hours into up to N shards run side by side. "
    "The same seed and N give the same calls; another N gives another run of the same model.",
)
def traffic(  # one parameter per option
    profile_path: Path,
    calls: int,
    days: int,
    url: str | None,
    seed: int | None,
    start: str | None,
    as_json: bool,
    jobs: int,
) -> None:
    """Generate CALLS simulated calls from a profile, over the last DAYS days, into the call log."""
    from ..sim.capacity import Plan, sized_for, sizing_lines
    from ..sim.profile import ProfileError, load_profile
    from ..sim.runner import published_site, run_profile, server_token

    try:
        profile = load_profile(profile_path)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        first = datetime.fromisoformat(start) if start else datetime.now(UTC) - timedelta(days=days)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO 8601 date", param_hint="--start") from None
    begin = (first if first.tzinfo else first.replace(tzinfo=UTC)).replace(minute=0, second=0, microsecond=0)
    try:
        sizing = sized_for(Plan.of(profile, published_site(VirtualClock(begin)), begin, days))
        note = server_token()[1] if url else None
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if url and jobs > 1:
        raise click.BadParameter(
            "shards run in this process's app: with --url the run is one process", param_hint="--jobs"
        )
    for line in [note, *sizing_lines(sizing, calls, days, str(profile_path))]:
        if line is not None:
            click.echo(line, err=True)
    with click.progressbar(length=calls, label="calls", file=sys.stderr) as bar:
        try:
            result = run_profile(
                profile,
                calls,
                days,
                VirtualClock(begin),
                url,
                seed,
                bar.update,
                jobs,
            )
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        agents = f"{summary['agent_calls']} agent calls"
        click.echo(f"{summary['calls']} calls (and {agents}), {summary['errors']} with errors")
        failed = [r for _call, r in result.calls + result.agent_legs if not r.ok]
        if failed:  # one reason is enough to act on (an --url server that keeps its own clock, say)
            one = failed[0]
            reason = f"Twilio error {one.error.code}: {one.error.message}" if one.error else ""
            click.echo(f"  the first: {reason or '; '.join(one.status_problems)}", err=True)
        for queue, row in sorted(summary["queues"].items()):
            click.echo(
                f"  {queue}: offered {row['offered']:.0f}, answered {row['bridged']:.0f}, "
                f"abandoned {row['hangup']:.0f}, left for voicemail {row['leave']:.0f}, "
                f"mean wait of answered {row['mean_wait_answered']} s"
            )
    sys.exit(1 if summary["errors"] else 0)
