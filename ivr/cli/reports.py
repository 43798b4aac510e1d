"""`ivr report compare`: two desks side by side from the call log (ivr.metrics.compare), as a table for
people, the JSON of the API, or CSV with one row per metric."""

from __future__ import annotations

import csv
import io
import json
import signal
import threading
from typing import Any

import click

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = (
    "metric", "kind", "unit", "desk_a", "desk_b", "a", "b", "difference", "ci_low", "ci_high", "significant",
    "verdict",
)  # fmt: skip
PERCENTILES = ("wait_p50", "wait_p90")


@click.group()
def report() -> None:
    """Reports on the call log."""


@report.command("compare")
@click.argument("desk_a")
@click.argument("desk_b")
@click.option("--since", metavar="DATE", help="ISO 8601 date or date-time (UTC unless given): from then.")
@click.option("--until", metavar="DATE", help="ISO 8601 date (to its end) or date-time: before it.")
@click.option("--format", "output", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--short-abandon", metavar="S", help="Abandons under S seconds are short, not in rates [5].")
@click.option("--service-level", metavar="T", help="Service level: answered within T seconds [20].")
@click.option("--repeat-days", metavar="N", help="A call again within N days repeats the answered one [7].")
def compare_command(
    desk_a: str, desk_b: str, since: str | None, until: str | None, output: str,
    short_abandon: str | None, service_level: str | None, repeat_days: str | None,
) -> None:  # fmt: skip
    """Compare DESK_A with DESK_B over a period (metric definitions are printed with the table)."""
    from ..db import session
    from ..extensions import flows
    from ..metrics import MetricSettings, compare
    from ..metrics.params import period
    from .main import _app

    try:
        settings = MetricSettings.from_mapping(
            {"short_abandon": short_abandon, "service_level": service_level, "repeat_days": repeat_days}
        )
        start, end = period(since, until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with _app():
        published = flows().current()
        if published is None:
            raise click.ClickException(
                "no flows are published yet, so no desk exists: run `ivr flows publish`"
            )
        try:
            result = compare(session(), published.site, desk_a, desk_b, start, end, settings)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if output == "json":
        click.echo(json.dumps(result, indent=2))
    elif output == "csv":
        click.echo(csv_text(result), nl=False)
    else:
        click.echo(table_text(result))


def _percentile_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    a, b = (result["desks"][name] for name in result["desks"])
    rows = []
    for metric in PERCENTILES:
        va, vb = a[metric], b[metric]
        rows.append({
            "metric": metric, "kind": "percentile", "unit": "s", "a": va, "b": vb,
            "difference": va - vb if va is not None and vb is not None else None, "ci_low": None,
            "ci_high": None, "significant": None, "verdict": "percentile: no interval",
        })  # fmt: skip
    return rows


def all_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison rows with the wait percentiles after ASA."""
    rows = list(result["comparison"])
    at = next((i + 1 for i, row in enumerate(rows) if row["metric"] == "asa"), len(rows))
    return rows[:at] + _percentile_rows(result) + rows[at:]


def csv_text(result: dict[str, Any]) -> str:
    """One CSV row per metric: both values, the difference, its 95% interval and the verdict."""
    names = list(result["desks"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in all_rows(result):
        writer.writerow(row | {"desk_a": names[0], "desk_b": names[1]})
    return buffer.getvalue()


def _value(row: dict[str, Any], value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if signed else ""
    kind, unit = row["kind"], row["unit"]
    if kind == "rate":
        return f"{value * 100:{sign}.1f}" + (" pp" if signed else " %")
    if kind == "count":
        return f"{value:{sign}d}"
    if kind == "cost":
        return f"{value:{sign},.2f}" + (f" {unit}" if unit != "money" else "")
    if unit == "s":
        return f"{value:{sign},.1f} s"
    return f"{value:{sign}.2f}"


def _interval(row: dict[str, Any]) -> str:
    if row["ci_low"] is None:
        return ""
    return f"[{_value(row, row['ci_low'], True)}, {_value(row, row['ci_high'], True)}]"


def table_text(result: dict[str, Any]) -> str:
    """The comparison for people: desks, period, one line per metric, then the definitions used."""
    desks = result["desks"]
    names = list(desks)
    lines = []
    for name in names:
        desk = desks[name]
        lines.append(f"{name}: {desk['label']} (time zone {desk['timezone']}, costs in "
                     f"{desk['currency'] or 'no currency: no cost model'})")  # fmt: skip
    when = result["period"]
    lines.append(
        f"Period: calls that started from {when['since'] or 'the first call'} "
        f"until {when['until'] or 'now'} (until excluded)"
    )
    header = ("metric", names[0], names[1], "difference", "95% interval", "verdict")
    table = [header] + [
        (
            row["metric"],
            _value(row, row["a"]),
            _value(row, row["b"]),
            _value(row, row["difference"], signed=True),
            _interval(row),
            row["verdict"],
        )
        for row in all_rows(result)
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines.append("")
    for line in table:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:-2], widths[1:-1], strict=True)]
        cells += [line[-2].ljust(widths[-1]), line[-1]]
        lines.append("  ".join(cells).rstrip())
    lines += ["", "Definitions (hour, day and menu-path breakdowns: --format json):"]
    for key, text in result["definitions"].items():
        if isinstance(text, dict):
            text = "; ".join(f"{k}: {v}" for k, v in text.items())
        lines.append(f"  {key}: {text}")
    return "\n".join(lines)


@report.command("rollup")
@click.option("--rebuild", is_flag=True, help="Build every day from the first call to the last again.")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Keep going, a round every SECONDS, until SIGTERM.",
)
def rollup_command(rebuild: bool, every: float | None) -> None:
    """Build the daily rollups reports read (the days calls changed since); reports are exact without."""
    from ..db import session
    from ..extensions import clock
    from ..metrics.rollup import refresh, start_of
    from .main import _app

    stop = threading.Event()
    if every is not None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with _app():
        while True:
            try:
                days = refresh(session(), clock(), rebuild=rebuild)
            except Exception as exc:  # keep going: the next round tries the day again
                if every is None:
                    raise
                session().rollback()
                click.echo(f"rollup failed, trying again in {every:g} s: {exc}", err=True)
                days = []
            if days or every is None:
                shown = ", ".join(start_of(day).date().isoformat() for day in days[:5]) + (
                    ", ..." if len(days) > 5 else ""
                )
                click.echo(f"built {len(days)} day(s){': ' + shown if days else ''}")
            rebuild = False
            if every is None or stop.wait(every):
                break
