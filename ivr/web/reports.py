"""The ops comparison page: its form, the verdict tiles, its charts and the same report elsewhere.
Numbers from ivr.metrics.compare unchanged; dates are whole UTC days, [since, until + 1 day)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from ..calls.periods import period
from ..engine.site import Desk, Site
from ..metrics import MetricSettings
from ..metrics.labels import LABELS, kind_of, power_text, value_text
from ..metrics.params import ASKED, only_known, site_zone
from .charts import Series, bar_chart, line_chart

DEFAULT_DAYS = 7
MAX_FILLED_DAYS = 400  # up to this many days, the daily charts show days without calls too
SETTING_FIELDS = (
    ("short_abandon", "Short abandon under (s)"),
    ("service_level", "Service level within (s)"),
    ("repeat_days", "Repeat call within (days)"),
)
# Passed to ivr.metrics.compare as typed (it checks them and names the valid choices): the mode, the segment
# filter, the time zone of the hour and day breakdowns, the differences power is computed for and the
# service-level target of cost at equal service.
CHOICE_FIELDS = ASKED
FORM_FIELDS = ("a", "b", "since", "until", *(name for name, _label in SETTING_FIELDS), *CHOICE_FIELDS)


class FormError(ValueError):
    """A form value that cannot be used (the message names the field), or nothing to compare yet."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CompareForm:
    """What ops asked for: two desks, whole UTC days, the metric thresholds and the comparison's choices."""

    desk_a: str
    desk_b: str
    since: date
    until: date
    settings: MetricSettings
    choices: Mapping[str, str] = default(default_factory=dict)  # CHOICE_FIELDS given, as typed

    @property
    def period(self) -> tuple[datetime, datetime]:
        """The report's period, read as everywhere (ivr.calls.periods): `until` runs to the end of its day."""
        start, end = period(self.since.isoformat(), self.until.isoformat())
        assert start is not None and end is not None  # read_form refuses an until with no day after it
        return start, end

    def args(self) -> dict[str, str]:
        """The form as query-string arguments."""
        s = self.settings
        return {
            "a": self.desk_a, "b": self.desk_b, "since": self.since.isoformat(),
            "until": self.until.isoformat(), "short_abandon": str(s.short_abandon_seconds),
            "service_level": str(s.service_level_seconds), "repeat_days": str(s.repeat_days),
        } | dict(self.choices)  # fmt: skip

    def _params(self) -> dict[str, str]:
        """The report's parameters but the desks, as the API and the command line name them."""
        start, end = self.period
        s = self.settings
        return {
            "since": start.isoformat().replace("+00:00", "Z"),
            "until": end.isoformat().replace("+00:00", "Z"),
            "short_abandon": str(s.short_abandon_seconds),
            "service_level": str(s.service_level_seconds),
            "repeat_days": str(s.repeat_days),
        } | dict(self.choices)

    def api_args(self) -> dict[str, str]:
        """The report's parameters as the API reads them (ivr.metrics.compare_from_args)."""
        return {"desks": f"{self.desk_a},{self.desk_b}"} | self._params()

    def api_path(self) -> str:
        """The same report from the JSON API (which needs a bearer token)."""
        return f"/api/reports/compare?{urlencode(self.api_args())}"

    def command(self) -> str:
        """The same report on the command line (each API parameter as the option of the same name)."""
        words = ["ivr", "report", "compare", self.desk_a, self.desk_b]
        for name, value in self._params().items():
            words += [f"--{name.replace('_', '-')}", value]
        return shlex.join([*words, "--format", "table"])


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def read_form(args: Mapping[str, str], desks: Mapping[str, Desk], today: date) -> CompareForm:
    """The form from query arguments, with defaults: the site's first two desks, the last 7 days."""
    names = list(desks)
    if len(names) < 2:
        raise FormError("the published site has fewer than two desks: there is nothing to compare")
    try:
        only_known(args, FORM_FIELDS)
    except ValueError as exc:
        raise FormError(str(exc)) from None
    desk_a = args.get("a", "").strip() or names[0]
    desk_b = args.get("b", "").strip() or names[1]
    for field, desk in (("a", desk_a), ("b", desk_b)):
        if desk not in desks:
            raise FormError(
                f"desk {field}: {desk!r} is not a desk of the published site ({', '.join(names)})"
            )
    if desk_a == desk_b:
        raise FormError("choose two different desks")
    until_text, since_text = args.get("until", "").strip(), args.get("since", "").strip()
    until = _day("until", until_text) if until_text else today
    since = _day("since", since_text) if since_text else until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise FormError(f"since ({since}) is after until ({until})")
    if until == date.max:
        raise FormError(f"until: {until_text!r} is too far in the future (the report ends the day after)")
    try:
        settings = MetricSettings.from_mapping({k: args[k] for k, _label in SETTING_FIELDS if k in args})
    except ValueError as exc:
        raise FormError(str(exc)) from None
    return CompareForm(desk_a, desk_b, since, until, settings, _choices(args))


def _choices(args: Mapping[str, str]) -> dict[str, str]:
    """The comparison's choices that were given (an empty field is a choice not made: the default)."""
    return {name: args[name].strip() for name in CHOICE_FIELDS if args.get(name, "").strip()}


def fallback_form(args: Mapping[str, str], desks: Mapping[str, Desk], today: date) -> dict[str, str]:
    """The values to show in the form again when it had an error (what was typed, else defaults)."""
    names = list(desks) + ["", ""]
    defaults = {
        "a": names[0], "b": names[1], "since": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "until": today.isoformat(), "short_abandon": "5", "service_level": "20", "repeat_days": "7",
    }  # fmt: skip
    return {key: args.get(key, "").strip() or value for key, value in defaults.items()} | _choices(args)


def zone_choices(site: Site | None, chosen: str | None) -> list[str]:
    """The time zones the selector offers: the site's default first, UTC, the desks' zones, the one chosen."""
    zones = [site_zone(site), "UTC", *(desk.timezone for desk in site.desks.values())] if site else ["UTC"]
    return list(dict.fromkeys([*zones, *([chosen] if chosen else [])]))


KEY_FIGURES = (
    "abandonment_rate", "service_level", "asa", "aht", "csat", "repeat_rate", "cost_per_resolved_call",
)  # fmt: skip


@dataclass(frozen=True)
class Tile:
    """One key figure's verdict at the top of the page: its comparison row and what it says."""

    row: Mapping[str, Any]
    flag: str  # Significant, Not significant, No test
    says: str  # the row's verdict, or how many more calls would tell


def tile_text(row: Mapping[str, Any]) -> str:
    """A tile's words for a difference not significant: not yet known, and about how many more calls."""
    power = row.get("power")
    if not power or not power["more_per_desk"]:  # nothing to wait for: the report's own words
        return power_text(row) or f"not yet known ({row['verdict']})"
    days = power["days"]
    when = "" if days is None else f" (≈ {days:,} day{'' if days == 1 else 's'} with calls)"
    return f"not yet known; about {power['more_per_desk']:,} more calls per desk{when}"


def tiles(report: Mapping[str, Any]) -> list[Tile]:
    """The verdict tiles: the key figures' comparison rows in KEY_FIGURES order."""
    rows = {row["metric"]: row for row in report["comparison"]}
    shown = []
    for metric in KEY_FIGURES:
        row = rows[metric]
        if row["significant"]:
            shown.append(Tile(row, "Significant", row["verdict"]))
        elif row["significant"] is False:
            shown.append(Tile(row, "Not significant", tile_text(row)))
        else:
            shown.append(Tile(row, "No test", row["verdict"]))
    return shown


def number_text(value: float | None) -> str:
    """A modelled amount (calls a day, calls an hour) to one decimal ('–' where there is none)."""
    return "–" if value is None else f"{value:,.1f}"


def verdict_class(significant: bool | None) -> str:
    """A CSS class for the verdict: significant, not significant or not testable."""
    return {True: "significant", False: "not-significant"}.get(significant, "untested")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Chart:
    """A chart, its caption and the table with the same figures."""

    id: str
    title: str
    svg: Markup
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the page: which breakdown, which figure (bars for counts, lines for rates)."""

    id: str
    title: str
    desc: str
    breakdown: str  # "day" or "hour"
    figure: str
    inner: str | None  # bars: the part drawn inside each bar
    table: tuple[str, ...]  # the figures of its data table


CHARTS = (
    ChartSpec(
        "chart-daily-calls", "Calls offered and answered per day",
        "Bars per day for {names}: the full bar is the calls offered, the darker part the calls answered. "
        "Days in {zone} for both desks.",
        "day", "offered", "answered", ("offered", "answered"),
    ),
    ChartSpec(
        "chart-daily-abandonment", "Abandonment rate per day",
        "One line per desk ({names}): abandoned calls, short abandons excluded, as a share of the calls "
        "offered each day. A gap means no calls that day. Days in {zone} for both desks.",
        "day", "abandonment_rate", None, ("abandonment_rate", "service_level"),
    ),
    ChartSpec(
        "chart-hourly-calls", "Calls offered and answered by hour of day",
        "Bars per hour of the day for {names}, over the whole period: the full bar is the calls offered, "
        "the darker part the calls answered. Hours in {zone} for both desks.",
        "hour", "offered", "answered", ("offered", "answered"),
    ),
    ChartSpec(
        "chart-hourly-service-level", "Service level by hour of day",
        "One line per desk ({names}): the share of calls answered within the service-level threshold, "
        "by hour of the day in {zone} for both desks. A gap means no calls in that hour.",
        "hour", "service_level", None, ("service_level", "asa"),
    ),
)  # fmt: skip


def _keys(report: Mapping[str, Any], form: CompareForm, breakdown: str) -> list[str]:
    """The chart's categories: all 24 hours, or every day of the period and any the desks' zones add."""
    if breakdown == "hour":
        return [f"{h:02d}" for h in range(24)]
    listed = {row["key"] for row in report["breakdowns"]["day"]}
    span = (form.until - form.since).days + 1
    if span > MAX_FILLED_DAYS:  # a long period: only the days the report has (first to last call)
        return sorted(listed)
    return sorted(listed | {(form.since + timedelta(days=i)).isoformat() for i in range(span)})


def _figure(rows: Mapping[str, Mapping[str, Any]], key: str, desk: str, name: str) -> Any:
    """A breakdown figure; counts are 0 and everything else undefined for a slice without calls."""
    value = rows.get(key, {}).get(desk, {}).get(name)
    return 0 if value is None and kind_of(name) == "count" else value


def _axis_text(kind: str) -> Callable[[float], str]:
    if kind == "rate":
        return lambda v: f"{v * 100:.0f} %"
    return lambda v: f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def chart(report: Mapping[str, Any], form: CompareForm, labels: Mapping[str, str], spec: ChartSpec) -> Chart:
    """One chart of the report and its data table."""
    desks = (form.desk_a, form.desk_b)
    keys = _keys(report, form, spec.breakdown)
    rows = {row["key"]: row["desks"] for row in report["breakdowns"][spec.breakdown]}
    css = {form.desk_a: "series-a", form.desk_b: "series-b"}
    series = [
        Series(
            d,
            labels[d],
            [_figure(rows, k, d, spec.figure) for k in keys],
            css[d],
            [_figure(rows, k, d, spec.inner) for k in keys] if spec.inner else None,
        )  # fmt: skip
        for d in desks
    ]
    what = "day" if spec.breakdown == "day" else "hour"

    def describe(one: Series, i: int) -> str:
        said = ", ".join(
            f"{in_sentence(LABELS[n])} {value_text(n, _figure(rows, keys[i], one.key, n))}"
            for n in spec.table
        )
        return f"{one.label}, {what} {keys[i]}: {said}"

    zone = report["timezone"]
    desc = spec.desc.format(names=f"{labels[form.desk_a]} and {labels[form.desk_b]}", zone=zone)
    x_label = (lambda key: key[5:]) if spec.breakdown == "day" else str
    axis = _axis_text(kind_of(spec.figure))
    if spec.inner:
        svg = bar_chart(spec.id, spec.title, desc, keys, series, axis, describe, x_label)
    else:
        svg = line_chart(spec.id, spec.title, desc, keys, series, axis, describe, x_label, _rate_top(series))
    columns = (
        f"{what.capitalize()} ({zone})",
        *(f"{labels[d]}: {in_sentence(LABELS[n])}" for d in desks for n in spec.table),
    )
    body = [(k, *(value_text(n, _figure(rows, k, d, n)) for d in desks for n in spec.table)) for k in keys]
    return Chart(spec.id, spec.title, svg, columns, body)


def charts(report: Mapping[str, Any], form: CompareForm, labels: Mapping[str, str]) -> list[Chart]:
    """Daily trend and hour-of-day profile per desk, each as a chart and as a table."""
    return [chart(report, form, labels, spec) for spec in CHARTS]


def _rate_top(series: Sequence[Series]) -> float:
    """A y-axis top for rates: the next 10 points above the highest value, from 10 % to 100 %."""
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    return min(1.0, (int(peak * 10) + 1) / 10)


def segment_choices(report: Mapping[str, Any] | None, values: Mapping[str, str]) -> list[str]:
    """The segments the selector offers: every one either desk served in the period, and the one chosen."""
    listed = list(report["segment_choices"]) if report is not None else []
    chosen = values.get("segment")
    return list(dict.fromkeys([*listed, *([chosen] if chosen else [])]))


def in_sentence(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless it starts an acronym (CSAT, ASA)."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def changed(values: Mapping[str, str], **choices: str) -> dict[str, str]:
    """The form's values with some choices changed (a link to the same report in another mode)."""
    return {**values, **choices}
