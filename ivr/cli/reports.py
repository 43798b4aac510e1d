"""`ivr report compare`: two desks side by side from the call log (ivr.metrics.compare), as a table for
people, the JSON of the API, or CSV with one row per metric."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import click

from ..metrics.export import all_rows, csv_text
from ..metrics.labels import difference_text, interval_text, power_text, value_text
from ..metrics.modes import MODES
from .context import app_context

FORMATS = ("table", "json", "csv")
ASKED = ("mode", "segment", "timezone", "detect", "target", "within")


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
@click.option("--mode", type=click.Choice(MODES), help="Comparison mode [randomised with 30+ split calls at "
              "each desk, else adjusted when they share segments, else raw].")  # fmt: skip
@click.option("--segment", metavar="S", help="Only the calls of segment S (one either desk served).")
@click.option("--timezone", metavar="ZONE", help="IANA zone of the hours and days [the first schedule's].")
@click.option("--detect", metavar="METRIC:SIZE,...", help="Power for these differences, e.g. aht:15.")
@click.option("--target", metavar="SHARE", help="Equal service: the service level to staff for [0.8].")
@click.option("--within", metavar="SECONDS", help="Equal service: answered within this many seconds [20].")
def compare_command(
    desk_a: str, desk_b: str, since: str | None, until: str | None, output: str,
    short_abandon: str | None, service_level: str | None, repeat_days: str | None, **asked: str | None,
) -> None:  # fmt: skip
    """Compare DESK_A with DESK_B over a period (metric definitions are printed with the table)."""
    from ..calls.periods import period
    from ..db import session
    from ..extensions import flows
    from ..metrics import MetricSettings, compare
    from ..metrics.params import Asked

    try:
        settings = MetricSettings.from_mapping(
            {"short_abandon": short_abandon, "service_level": service_level, "repeat_days": repeat_days}
        )
        start, end = period(since, until)
        how = Asked.from_mapping(asked)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with app_context():
        try:
            published = flows().published()
            result = compare(
                session(), published.site, desk_a, desk_b, start, end, settings, mode=how.mode,
                segment=how.segment, timezone=how.timezone, detect=how.detect, target=how.target,
                within=how.within,
            )  # fmt: skip
        except ValueError as exc:
            if str(exc).partition(":")[0] in ASKED:  # a value of an option: --segment, --mode, --timezone
                raise click.UsageError(str(exc)) from None
            raise click.ClickException(str(exc)) from None
    if output == "json":
        click.echo(json.dumps(result, indent=2))
    elif output == "csv":
        click.echo(csv_text(result), nl=False)
    else:
        click.echo(table_text(result))


def _currency(row: dict[str, Any]) -> str | None:
    """The currency of a cost row, when both desks cost in the same one."""
    return row["unit"] if row["kind"] == "cost" and row["unit"] != "money" else None


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
    lines.append(f"Mode: {result['mode']} ({result['mode_reason']}); every verdict below comes from it")
    if result["segment"] is not None:
        lines.append(f"Segment: {result['segment']} only")
    if result["mode"] == "raw" and result["case_mix"]["differs"]:
        lines.append(f"WARNING: {result['case_mix']['message']}")
    header = ("metric", names[0], names[1], "difference", "95% interval", "verdict")
    table = [header] + [
        (
            row["metric"],
            value_text(row["metric"], row["a"], _currency(row)),
            value_text(row["metric"], row["b"], _currency(row)),
            difference_text(row["metric"], row["difference"], _currency(row)),
            interval_text(row["metric"], row["ci_low"], row["ci_high"], _currency(row)),
            "; ".join(filter(None, (row["verdict"], power_text(row)))),
        )
        for row in all_rows(result)
    ]
    lines += ["", *_aligned(table)]
    lines += ["", *segment_table(result)]
    said = result["equal_service"]["verdict"]
    lines += ["", said[:1].upper() + said[1:]]
    lines += ["", "Definitions (hour, day and menu-path breakdowns: --format json):"]
    for key, text in result["definitions"].items():
        if isinstance(text, dict):
            text = "; ".join(f"{k}: {v}" for k, v in text.items())
        lines.append(f"  {key}: {text}")
    return "\n".join(lines)


def _aligned(table: list[tuple[str, ...]]) -> list[str]:
    """Rows of cells in columns: the first and the last two left-aligned, the numbers between to the right."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    lines = []
    for line in table:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:-2], widths[1:-1], strict=True)]
        cells += [line[-2].ljust(widths[-1]), line[-1]]
        lines.append("  ".join(cells).rstrip())
    return lines


SEGMENT_METRICS = ("abandonment_rate", "aht")  # the differences the CLI's segment table shows


def _difference(row: dict[str, Any]) -> str:
    """A difference, its interval and whether it is significant, compactly."""
    if row["difference"] is None:
        return "-"
    metric = row["metric"]
    interval = interval_text(metric, row["ci_low"], row["ci_high"])
    return f"{difference_text(metric, row['difference'])} ({interval})" + (" *" if row["significant"] else "")


def segment_table(result: dict[str, Any]) -> list[str]:
    """The per-segment table: each segment's offered calls, AHT and abandonment at both desks, and the
    differences with their 95% intervals (every call of the segment, both arms)."""
    names = list(result["desks"])
    header = (
        "segment", *(f"{name} offered" for name in names), *(f"{name} AHT" for name in names),
        *(f"{name} abandonment" for name in names), "abandonment A-B (95%)", "AHT A-B (95%)",
    )  # fmt: skip
    table = [header]
    for entry in result["segments"]:
        desks = [entry["desks"][name] for name in names]
        rows = {row["metric"]: row for row in entry["comparison"]}
        table.append((
            entry["segment"], *(str(desk["offered"]) for desk in desks),
            *(value_text("aht", desk["aht"]) for desk in desks),
            *(value_text("abandonment_rate", desk["abandonment_rate"]) for desk in desks),
            *(_difference(rows[metric]) for metric in SEGMENT_METRICS),
        ))  # fmt: skip
    title = "Per segment (every call of each segment at each desk, both arms; * significant at 5%):"
    return [title, *_aligned(table)]


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

    stop = threading.Event()
    if every is not None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with app_context():
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


STAFFING_OPTIONS = ("calls_per_hour", "aht", "patience", "target", "within")


@report.command("staffing")
@click.option("--calls-per-hour", type=float, required=True, metavar="N", help="Calls offered per hour.")
@click.option("--aht", type=float, required=True, metavar="S", help="Average handle time in seconds.")
@click.option("--patience", type=float, metavar="S", help="Callers' mean patience in seconds: Erlang A.")
@click.option("--target", type=float, default=0.8, show_default=True, help="Service-level target (a share).")
@click.option("--within", type=float, default=20, show_default=True, metavar="S", help="Answered within S s.")
@click.option("--format", "output", type=click.Choice(("table", "json")), default="table", show_default=True)
def staffing_command(
    calls_per_hour: float, aht: float, patience: float | None, target: float, within: float, output: str
) -> None:
    """Agents needed to reach a service level: Erlang C, or Erlang A when callers' patience is given."""
    from ..metrics.erlang import agents_needed, offered_load

    try:
        found = agents_needed(calls_per_hour, aht, target, within, patience)
    except ValueError as exc:
        name, _, rest = str(exc).partition(":")
        shown = f"--{name.replace('_', '-')}:{rest}" if name in STAFFING_OPTIONS else str(exc)
        raise click.UsageError(shown) from None
    result = {
        "model": "erlang_c" if patience is None else "erlang_a",
        "erlangs": offered_load(calls_per_hour, aht),
        "target": target,
        "within": within,
        "agents": found.agents,
        "service_level": found.service_level,
        "asa": found.asa,
        "occupancy": found.occupancy,
        "p_wait": found.p_wait,
        "abandon_rate": found.abandon_rate,
    }
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    model = "Erlang C, callers wait" if patience is None else f"Erlang A, callers' patience {patience:g} s"
    abandons = "-" if found.abandon_rate is None else f"{found.abandon_rate:.1%}"
    lines = [
        f"{calls_per_hour:g} calls an hour x {aht:g} s = {result['erlangs']:.2f} Erlangs ({model})",
        f"agents needed  {found.agents}",
        f"service level  {found.service_level:.1%} answered within {within:g} s (target {target * 100:g}%)",
        f"ASA            {found.asa:.1f} s",
        f"occupancy      {found.occupancy:.1%}",
        f"P(wait)        {found.p_wait:.1%}",
        f"abandon rate   {abandons}",
    ]
    click.echo("\n".join(lines))
