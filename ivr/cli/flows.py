"""`ivr flows`: validate a folder, publish it, export a version, read the history and diffs, roll back."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import DEFAULT_FLOWS_DIR
from ..engine import Problem, load_folder
from ..engine.loader import SITE_FILE
from ..engine.problems import errors
from .context import app_context

if TYPE_CHECKING:
    from ..accounts.audit import Actor


def _default_folder() -> Path:
    return Path(os.environ.get("FLOWS_DIR") or DEFAULT_FLOWS_DIR)


def _cli_actor() -> Actor:
    """The audit log's actor for a command: cli:<os user>, from "cli"."""
    from ..accounts.audit import Actor  # here: `flows validate` needs no database code

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid())
    return Actor(f"cli:{user}", "cli")


def _echo_problems(problems: list[Problem], err: bool = False) -> None:
    for problem in problems:
        click.echo(str(problem), err=err)


def _counted(problems: list[Problem]) -> str:
    found = len(errors(problems))
    warnings = len(problems) - found
    return f"{found} error(s), {warnings} warning(s)" if warnings else f"{found} problem(s)"


@click.group()
def flows() -> None:
    """Flows: validate and publish a folder, export a version, history, diffs and rollbacks."""


@flows.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def flows_validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check flow files (or folders) by schema and meaning; list every problem; exit 1 on an error."""
    targets = paths or (_default_folder(),)
    folders: dict[Path, set[Path] | None] = {}
    for path in targets:
        if path.is_dir():
            folders[path] = None
        elif folders.get(path.parent, set()) is not None:
            folders.setdefault(path.parent, set()).add(path)  # type: ignore[union-attr]
    problems: list[Problem] = []
    for folder, only in folders.items():
        wanted = None if only is None else [p for p in only if p.name != SITE_FILE]
        problems += load_folder(folder, only=wanted)[1]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        _echo_problems(problems)
        if errors(problems):
            click.echo(_counted(problems))
        else:
            click.echo(f"flows are valid ({len(problems)} warning(s))" if problems else "flows are valid")
    sys.exit(1 if errors(problems) else 0)


@flows.command("fallback")
def flows_fallback() -> None:
    """Print the published site's fallback as TwiML: a document to host elsewhere (a TwiML Bin, a static
    file) as the number's Fallback URL, for when ivr itself cannot be reached (docs/operations.md)."""
    from ..extensions import flows as flow_store
    from ..voice.responses import fallback_twiml

    with app_context() as app:
        published = flow_store().current()
        base = app.config["PUBLIC_BASE_URL"]
        if not base:
            click.echo("PUBLIC_BASE_URL is not set: the callback URLs point at localhost", err=True)
        with app.test_request_context("/", base_url=base or "http://localhost"):
            document = fallback_twiml(published.site if published is not None else None)
    click.echo(document.get_data(as_text=True))


@flows.command("publish")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--note", default=None, help="What changes for callers, and why (default: the folder published)."
)
@click.option(
    "--if-empty", is_flag=True, help="Publish only when no version is published yet (a release step)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish even though it undoes versions published from the browser or the API since the last "
    "folder publish.",
)
def flows_publish(folder: Path | None, note: str | None, if_empty: bool, force: bool) -> None:
    """Publish a flows folder (default FLOWS_DIR) as the newest version, after validating all of it.

    Refuses when versions were published from the browser, the API or a rollback since a folder was last
    published (the folder would undo them): `ivr flows export DIR` brings them into the folder first.
    """
    from ..db import session
    from ..extensions import clock
    from ..flows.history import newest_version_id
    from ..flows.publishing import NothingToPublish, PublishRefused, folder_overwrites, publish_folder

    folder = folder or _default_folder()
    with app_context():
        s = session()
        if if_empty and (newest := newest_version_id(s)) is not None:
            click.echo(f"version {newest} is published already; nothing done")
            return
        bundle, problems = load_folder(folder)
        _echo_problems(problems, err=True)
        if bundle is None:
            click.echo(f"not published: {_counted(problems)}", err=True)
            sys.exit(1)
        undone = folder_overwrites(s, bundle.texts) if not force else []
        if undone:
            latest = undone[0]
            click.echo(
                f"not published: version {latest.id} was published by {latest.published_by} "
                f"(from {latest.source}) after the last publish from a folder, and publishing {folder} would "
                f"undo {'it' if len(undone) == 1 else f'it and {len(undone) - 1} other version(s)'}. "
                f"Run `ivr flows export {folder}` to bring it into the folder first (then edit and publish), "
                "or publish with --force to undo it.",
                err=True,
            )
            sys.exit(1)
        try:
            version = publish_folder(
                s,
                bundle.texts,
                note=note or f"published from {folder}",
                actor=_cli_actor(),
                now=clock(),
                source=str(folder),
            )
        except NothingToPublish as same:
            click.echo(same.message)
            return
        except PublishRefused as refused:
            click.echo(refused.message, err=True)
            sys.exit(1)
        s.commit()
        click.echo(f"published version {version.id}: {version.summary}")


@flows.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "version_id", type=int, help="The version to export (default: the newest).")
@click.option("--prune", is_flag=True, help="Also remove *.json files of the folder that the version lacks.")
def flows_export(folder: Path, version_id: int | None, prune: bool) -> None:
    """Write a version's documents into FOLDER, byte for byte as they were published."""
    from ..db import session
    from ..flows.history import newest_version_id, version_texts

    with app_context():
        s = session()
        version_id = version_id if version_id is not None else newest_version_id(s)
        if version_id is None:
            click.echo("nothing is published yet", err=True)
            sys.exit(1)
        try:
            texts = version_texts(s, version_id)
        except LookupError as missing:
            click.echo(str(missing), err=True)
            sys.exit(1)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(texts.items()):
        (folder / name).write_bytes(text.encode("utf-8"))
    stale = sorted(p for p in folder.glob("*.json") if p.name not in texts)
    for path in stale:
        if prune:
            path.unlink()
            click.echo(f"removed {path}")
        else:
            click.echo(f"not in version {version_id}: {path} (remove it, or export with --prune)", err=True)
    click.echo(f"exported version {version_id} to {folder} ({len(texts)} document(s))")


@flows.command("history")
@click.option("--limit", type=int, default=None, help="Only the newest N versions.")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def flows_history(limit: int | None, as_json: bool) -> None:
    """Every published version, newest first: who, when, the note, calls started and what changed."""
    from ..db import session
    from ..flows.history import history

    with app_context():
        versions = history(session(), limit=limit)
    if as_json:
        rows = [
            {**vars(v), "published_at": v.published_at.isoformat().replace("+00:00", "Z")} for v in versions
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not versions:
        click.echo("nothing is published yet")
        return
    click.echo(f"{'version':>7}  {'published (UTC)':16}  {'by':16}  {'calls':>6}  note / what changed")
    for v in versions:
        back = f" (rollback to {v.rolled_back_from})" if v.rolled_back_from is not None else ""
        when = v.published_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{v.id:>7}  {when:16}  {v.published_by[:16]:16}  {v.calls_started:>6}  {v.note}{back}")
        click.echo(f"{'':>7}  {'':16}  {'':16}  {'':>6}  {v.summary}")


@flows.command("diff")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--document", help="Only this document (e.g. main.json).")
def flows_diff(old: int, new: int, document: str | None) -> None:
    """The unified diff of each document that differs between versions OLD and NEW."""
    from ..db import session
    from ..flows.diffs import document_diffs
    from ..flows.history import version_texts

    with app_context():
        try:
            before, after = version_texts(session(), old), version_texts(session(), new)
        except LookupError as missing:
            click.echo(str(missing), err=True)
            sys.exit(1)
    diffs = [d for d in document_diffs(before, after) if document is None or d.document == document]
    if document is not None and not diffs:
        click.echo(f"no document {document!r} in version {old} or {new}", err=True)
        sys.exit(1)
    changed = [d for d in diffs if d.status != "same"]
    for diff in changed:
        click.echo(diff.unified(), nl=False)
    if not changed:
        click.echo(f"no differences between version {old} and version {new}")


@flows.command("rollback")
@click.argument("version_id", type=int)
@click.option("--note", required=True, help="Why callers should hear the old version again.")
def flows_rollback(version_id: int, note: str) -> None:
    """Publish an old version's documents again, as a new version."""
    from ..db import session
    from ..extensions import clock
    from ..flows.publishing import PublishRefused, rollback

    with app_context():
        s = session()
        try:
            version = rollback(s, version_id, note=note, actor=_cli_actor(), now=clock())
        except LookupError as missing:
            click.echo(str(missing), err=True)
            sys.exit(1)
        except PublishRefused as refused:
            _echo_problems(refused.problems, err=True)
            click.echo(refused.message, err=True)
            sys.exit(1)
        s.commit()
        click.echo(f"published version {version.id}: {version.summary}")
