"""`ivr campaign` and `ivr dnc`: outbound campaigns (create, import, start.., status) and do-not-call."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

import click

from .context import app_context

CAMPAIGN_OPTIONS = {
    "caller_id": "--caller-id",
    "default_timezone": "--timezone",
    "max_attempts": "--max-attempts",
    "retry_seconds": "--retry",
    "machine_detection": "--machine-detection",
    "machine_message": "--machine-message",
    "max_cps": "--max-cps",
    "max_concurrent": "--max-concurrent",
    "window": "--window",
    "flow": "--flow",
    "desk": "--desk",
    "name": "NAME",
}
BAR_WIDTH = 40


def _now() -> datetime:
    """The app's clock (ivr.extensions.clock): read once per command, or once per round of --watch."""
    from ..extensions import clock

    return clock()


def _audit(action: str, target: str, now: datetime, **details: Any) -> None:
    """Write the change to the audit log as done by cli:<os user> (committed with it)."""
    from ..accounts.audit import cli_actor, record
    from ..db import session

    record(session(), cli_actor(), action, target, now, **details)


def _campaign(ref: str) -> Any:
    from ..campaigns.service import find_campaign
    from ..db import session

    try:
        return find_campaign(session(), ref)
    except LookupError as exc:
        raise click.ClickException(f"{exc}: see `ivr campaign list`") from None


def _region(region: str | None) -> str | None:
    from ..campaigns.phone import check_region

    try:
        return check_region(region)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--region") from None


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read from it (for an import's progress bar)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


@contextmanager
def _byte_bar(size: int, counting: _Counting) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over the bytes of the file being read, on a terminal only."""
    if not size or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=size, label="importing", file=sys.stderr) as shown:

        def progress(_rows: int) -> None:
            shown.update(counting.count - shown.pos)

        yield progress
        shown.update(size - shown.pos)


@click.group()
def campaign() -> None:
    """Outbound campaigns: a contact list called through Twilio, with a flow run when answered."""


@campaign.command("create")
@click.argument("name")
@click.option("--flow", required=True, help="The flow run when a callee answers (of the published site).")
@click.option("--caller-id", required=True, help="The number calls come from, E.164 (+15125550100).")
@click.option("--desk", help="The desk that takes connected calls (needed for the abandonment rate).")
@click.option("--window", default="08:00-21:00", show_default=True, help="Hours in the callee's local time.")
@click.option("--timezone", help="Time zone of contacts whose row and number tell none (IANA name).")
@click.option("--max-attempts", default=3, show_default=True, help="Calls per contact at most.")
@click.option(
    "--retry",
    "retries",
    multiple=True,
    metavar="OUTCOME=SECONDS",
    help="Spacing before the next attempt after busy, no-answer, failed or machine (repeat).",
)
@click.option(
    "--machine-detection",
    type=click.Choice(["off", "hangup", "message"]),
    default="off",
    show_default=True,
    help="On an answering machine: nothing (off), hang up, or leave --machine-message.",
)
@click.option("--machine-message", help="What to say to an answering machine.")
@click.option("--max-cps", default=1.0, show_default=True, help="Calls per second at most.")
@click.option("--max-concurrent", default=10, show_default=True, help="Calls in progress at once at most.")
def campaign_create(name: str, **options: Any) -> None:
    """Create campaign NAME (a draft: import contacts, then start it)."""
    from ..campaigns.rules import CampaignError
    from ..campaigns.service import create_campaign
    from ..db import session
    from ..extensions import flows

    data: dict[str, Any] = {"name": name, **options}
    data["default_timezone"] = data.pop("timezone")
    retry: dict[str, Any] = {}
    for item in data.pop("retries"):
        outcome, sep, seconds = item.partition("=")
        retry[outcome.strip()] = seconds.strip() if sep else None
    if retry:
        data["retry_seconds"] = retry
    with app_context():
        now = _now()
        published = flows().current()
        try:
            created = create_campaign(session(), data, published.site if published else None, now)
        except CampaignError as exc:
            for field, message in exc.problems:
                option = CAMPAIGN_OPTIONS.get(field.split(".")[0], field)
                click.echo(f"{field} ({option}): {message}", err=True)
            raise click.ClickException("the campaign was not created") from None
        _audit("campaign.create", created.name, now, id=created.id)
        session().commit()
        click.echo(
            f"campaign {created.name} created (id {created.id}, draft): import contacts, then start it"
        )


@campaign.command("import")
@click.argument("ref", metavar="CAMPAIGN")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--region", help="Read numbers without +country in this region (default: the caller ID's).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def campaign_import(ref: str, file: Path, region: str | None, as_json: bool) -> None:
    """Import contacts from a CSV FILE (phone, name, timezone, other columns: variables); '-' reads stdin.

    Every row that is not imported is reported with its line number; duplicates are merged.
    """
    from ..accounts.audit import report_figures
    from ..campaigns.csvfile import FileError
    from ..campaigns.importer import ImportRefused, import_contacts
    from ..campaigns.service import flow_variables
    from ..db import session
    from ..extensions import flows

    code = _region(region)
    with app_context():
        found = _campaign(ref)
        published = flows().current()
        needs = flow_variables(published.site if published else None, found)
        raw: IO[bytes] = sys.stdin.buffer if str(file) == "-" else file.open("rb")
        counting = _Counting(raw)
        stream = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", newline="")
        size = 0 if str(file) == "-" else file.stat().st_size
        now = _now()
        with _byte_bar(size, counting) as progress:
            try:
                report = import_contacts(session(), found, stream, now, code, progress, needs)
            except (FileError, ImportRefused) as exc:
                session().rollback()
                raise click.ClickException(f"nothing imported: {exc}") from None
            finally:
                if raw is not sys.stdin.buffer:
                    raw.close()
        details = report_figures(report.as_dict())
        _audit("campaign.import", found.name, now, **details)
        session().commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)


def _state_command(action: str, done: str) -> click.Command:
    @click.argument("ref", metavar="CAMPAIGN")
    def command(ref: str) -> None:
        from ..campaigns.rules import TransitionError
        from ..campaigns.service import change_state
        from ..db import session

        with app_context():
            found = _campaign(ref)
            before, now = found.state, _now()
            try:
                state = change_state(session(), found, action, now)
            except TransitionError as exc:
                raise click.ClickException(str(exc)) from None
            details = {"id": found.id, "before": before, "state": state}
            _audit(f"campaign.{action}", found.name, now, **details)
            session().commit()
            click.echo(f"campaign {found.name} {done} (now {state})")

    command.__doc__ = {
        "start": "Start calling a draft campaign's contacts (the dialer worker places the calls).",
        "pause": "Pause a running campaign: no new calls; calls in progress end normally.",
        "resume": "Resume a paused campaign.",
        "cancel": "Cancel a campaign: its pending contacts are cancelled; calls in progress end normally.",
    }[action]
    return campaign.command(action)(command)


for _action, _done in (
    ("start", "started"),
    ("pause", "paused"),
    ("resume", "resumed"),
    ("cancel", "cancelled"),
):
    _state_command(_action, _done)


def bar(progress: float, width: int = BAR_WIDTH) -> str:
    """A text progress bar: [#####-----] 50%."""
    filled = round(progress * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {progress:.0%}"


def status_lines(found: Any, figures: Any) -> list[str]:
    """A campaign's status in words: state, progress bar, figures, abandonment."""
    from ..campaigns.figures import LABELS

    values = figures.as_dict()
    desk = f", desk {found.desk}" if found.desk else ""
    lines = [
        f"campaign {found.name} (id {found.id}): {found.state}; flow {found.flow}{desk}, "
        f"window {found.window_start}-{found.window_end} local time",
        f"{bar(figures.progress)}  {figures.contacts - figures.remaining} of {figures.contacts} contacts "
        "need no more calls",
    ]
    lines += [f"  {label:<40} {values[key]:>8}" for key, label in LABELS.items()]
    lines.append(f"  Abandonment rate: {figures.abandonment.describe()}")
    return lines


@campaign.command("status")
@click.argument("ref", metavar="CAMPAIGN")
@click.option("--json", "as_json", is_flag=True, help="Print the campaign and its figures as JSON.")
@click.option(
    "--watch", type=click.FloatRange(min=0.5), help="Show a live progress bar, refreshed every N s."
)
def campaign_status(ref: str, as_json: bool, watch: float | None) -> None:
    """Show a campaign's progress and figures (it only reads)."""
    from ..campaigns.service import campaign_dict
    from ..campaigns.tally import campaign_figures
    from ..db import session

    with app_context():
        found = _campaign(ref)
        figures = campaign_figures(session(), found, _now())
        if as_json:
            click.echo(json.dumps(campaign_dict(found, figures), indent=2))
            return
        if watch is not None:
            figures = _watch(found, figures, watch)
        for line in status_lines(found, figures):
            click.echo(line)


def _watch(found: Any, figures: Any, seconds: float) -> Any:
    """A live progress bar until the campaign is finished or cancelled (or Ctrl-C); the last figures.

    Each round ends the read's transaction without writing, so the next one sees what others committed.
    """
    from ..campaigns.tally import campaign_figures
    from ..db import session

    total = max(figures.contacts, 1)
    shown = figures.contacts - figures.remaining
    with click.progressbar(length=total, label=found.name, show_pos=True, file=sys.stderr) as live:
        live.update(shown)
        try:
            while found.state not in ("finished", "cancelled"):
                time.sleep(seconds)
                session().rollback()  # a new snapshot: found is read again
                figures = campaign_figures(session(), found, _now())
                live.update(figures.contacts - figures.remaining - shown)
                shown = figures.contacts - figures.remaining
        except KeyboardInterrupt:
            pass
    return figures


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the campaigns as JSON.")
def campaign_list(as_json: bool) -> None:
    """List the campaigns with their state and progress."""
    from ..campaigns.service import campaign_dict, list_campaigns
    from ..campaigns.tally import campaign_figures
    from ..db import session

    with app_context():
        rows = [(c, campaign_figures(session(), c, _now())) for c in list_campaigns(session())]
        if as_json:
            click.echo(json.dumps([campaign_dict(c, f) for c, f in rows], indent=2))
            return
        click.echo(f"{'ID':>4} {'NAME':<24} {'STATE':<10} {'CONTACTS':>8} {'LEFT':>8}  PROGRESS")
        for c, f in rows:
            progress = bar(f.progress, 20)
            click.echo(f"{c.id:>4} {c.name:<24} {c.state:<10} {f.contacts:>8} {f.remaining:>8}  {progress}")


@click.group()
def dnc() -> None:
    """The do-not-call list: numbers no campaign dials (checked just before each call)."""


def _numbers(raw: tuple[str, ...], region: str | None) -> list[str]:
    from ..campaigns.phone import all_to_e164

    numbers, bad = all_to_e164(list(raw), region)
    if bad:
        raise click.BadParameter("; ".join(bad), param_hint="NUMBER")
    return numbers


@dnc.command("add")
@click.argument("numbers", nargs=-1, required=True, metavar="NUMBER...")
@click.option("--region", default="US", show_default=True, help="Region of numbers written without +country.")
@click.option("--note", default="", help="Why (kept with the entry).")
def dnc_add(numbers: tuple[str, ...], region: str, note: str) -> None:
    """Put numbers on the do-not-call list."""
    from ..accounts.audit import numbers_target
    from ..campaigns.dnc import block_many
    from ..db import session

    phones = _numbers(numbers, _region(region))
    with app_context():
        now, unique = _now(), list(dict.fromkeys(phones))
        added = block_many(session(), phones, "manual", note, now=now)
        details = {"phones": unique, "added": added, "note": note}
        _audit("dnc.add", numbers_target(unique), now, **details)
        session().commit()
    click.echo(f"{added} added, {len(set(phones)) - added} already on the list: {', '.join(phones)}")


@dnc.command("remove")
@click.argument("numbers", nargs=-1, required=True, metavar="NUMBER...")
@click.option("--reason", required=True, help="Why (kept with the removal record and in the audit log).")
@click.option(
    "--opt-outs",
    "opt_outs",
    is_flag=True,
    help="Also remove callees' own opt-outs (source opt-out): an admin's decision, kept on record.",
)
@click.option("--region", default="US", show_default=True, help="Region of numbers written without +country.")
def dnc_remove(numbers: tuple[str, ...], reason: str, opt_outs: bool, region: str) -> None:
    """Take numbers off the do-not-call list, recording who, when and why."""
    from ..accounts.audit import cli_actor
    from ..campaigns.dnc import OptOutProtected, check_reason, removal_dict, unblock
    from ..db import session

    try:
        reason = check_reason(reason)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--reason") from None
    phones = list(dict.fromkeys(_numbers(numbers, _region(region))))
    removed, kept, missing = [], [], []
    with app_context():
        now, who = _now(), cli_actor().name
        for phone in phones:
            try:
                removal = unblock(session(), phone, by=who, reason=reason, now=now, opt_outs=opt_outs)
            except OptOutProtected:
                kept.append(phone)
                continue
            if removal is None:
                missing.append(phone)
                continue
            removed.append(phone)
            entry = {key: value for key, value in removal_dict(removal).items() if key in ENTRY_FIELDS}
            _audit("dnc.remove", phone, now, phones=[phone], **entry)
        session().commit()
    message = f"{len(removed)} removed"
    if missing:
        message += f"; not on the list: {', '.join(missing)}"
    if kept:
        message += f"; kept (callees' own opt-outs: add --opt-outs to remove them): {', '.join(kept)}"
    click.echo(message)
    if kept:
        raise SystemExit(1)


ENTRY_FIELDS = ("reason", "source", "note", "added_at")  # what a removal's audit entry keeps of it


@dnc.command("removals")
@click.option("--phone", help="Only this number's removals (E.164).")
@click.option("--json", "as_json", is_flag=True, help="Print the removals as JSON.")
def dnc_removals(phone: str | None, as_json: bool) -> None:
    """List the numbers taken off the do-not-call list, newest first: who, when, why, the entry as it was."""
    from ..campaigns.dnc import removal_dict, removals
    from ..db import session

    with app_context():
        found, total = removals(session(), phone)
        rows = [removal_dict(r) for r in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        was = f"{row['source']} since {row['added_at'][:19]}" + (f" ({row['note']})" if row["note"] else "")
        click.echo(f"{row['removed_at'][:19]}  {row['phone']:<16} by {row['removed_by']}: {row['reason']}")
        click.echo(f"{'':21}was {was}")
    click.echo(f"{total} removal(s)")


@dnc.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--region", default="US", show_default=True, help="Region of numbers written without +country.")
@click.option("--note", default="", help="Kept with each entry (e.g. the registry copy's date).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def dnc_import(file: TextIO, region: str, note: str, as_json: bool) -> None:
    """Add the numbers of FILE (one a line, or a CSV with a phone column); '-' reads stdin."""
    from ..campaigns.dnc import import_list
    from ..db import session

    code = _region(region)
    with app_context():
        now = _now()
        try:
            report = import_list(session(), file, code, "import", note, now=now)
        except UnicodeDecodeError:
            raise click.ClickException("nothing imported: the file is not UTF-8 text") from None
        details = {"added": report.added, "already_listed": report.already, "invalid": len(report.problems)}
        _audit("dnc.import", "do-not-call list", now, note=note, **details)
        session().commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    for line, reason in report.problems:
        click.echo(f"line {line}: {reason}")
    click.echo(f"{report.added} added, {report.already} already on the list, {len(report.problems)} invalid")


@dnc.command("list")
@click.option(
    "--source", type=click.Choice(["manual", "import", "opt-out"]), help="Only entries of this source."
)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def dnc_list(source: str | None, as_json: bool) -> None:
    """List the do-not-call entries, newest first."""
    from ..campaigns.dnc import entry_dict, listed, removals
    from ..db import session

    with app_context():
        entries, total = listed(session(), source)
        rows = [entry_dict(e) for e in entries]
        _none, removed = removals(session(), limit=0)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['phone']:<16} {row['source']:<8} {row['added_at'][:19]}  {row['note']}".rstrip())
    on_record = f"; {removed} removal(s) on record: ivr dnc removals" if removed else ""
    click.echo(f"{total} number(s){on_record}")
