"""`ivr flows`: validate and publish flow files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ..config import DEFAULT_FLOWS_DIR
from ..engine import load_folder
from ..engine.loader import SITE_FILE
from .context import app_context


@click.group()
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
    from ..extensions import flows as flows_store  # here: `flows validate` needs no database code

    with app_context():
        store = flows_store()
        problems = store.reload()
        for problem in problems:
            click.echo(str(problem), err=True)
        if problems:
            sys.exit(1)
        click.echo(f"published version {store.published().id}")
