"""Charts as inline SVG drawn on the server: no JavaScript, no CDN, readable by screen readers.
Each has a title and a description, each bar and point a tooltip; the page shows a table beside each."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40
Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line or set of bars: a desk's values per category (None: no value there)."""

    key: str
    label: str
    values: Sequence[float | None]
    css: str
    inner: Sequence[float | None] | None = None  # bars only: a part drawn inside each bar (e.g. answered)


def nice_ceiling(value: float, ticks: int = 4, whole: bool = False) -> float:
    """An axis top at or above `value` whose `ticks` steps are round (1, 2, 3, 4, 5, 6 or 8 x 10^k).

    With `whole`, steps are whole numbers (an axis of counts).
    """
    if value <= 0:
        return float(ticks)
    wanted = value / ticks
    power = 10.0 ** math.floor(math.log10(wanted))
    step = next(s * power for s in (1, 2, 3, 4, 5, 6, 8, 10) if s * power >= wanted * (1 - 1e-12))
    return round(max(step, 1.0) if whole else step, 12) * ticks


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _frame(chart_id: str, title: str, desc: str, y_max: float, y_format: Format) -> list[str]:
    """The SVG's opening, title and description, the grid lines and the y axis labels."""
    parts = [
        f'<svg class="chart" id="{_attr(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{_attr(chart_id)}-title {_attr(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{_attr(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{_attr(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        label = escape(y_format(y_max * i / 4))
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _x_labels(categories: Sequence[str], centres: Sequence[float], label: Callable[[str], str]) -> list[str]:
    """Category labels under the plot, thinned so that they do not overlap."""
    every = max(1, math.ceil(len(categories) / 16))
    y = HEIGHT - BOTTOM + 16
    return [
        f'<text class="axis" x="{x:.1f}" y="{y}" text-anchor="middle">{escape(label(key))}</text>'
        for i, (key, x) in enumerate(zip(categories, centres, strict=True))
        if i % every == 0
    ]


def _y(value: float, y_max: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * min(value, y_max) / y_max


def _peak(series: Sequence[Series]) -> float:
    return max((v for s in series for v in s.values if v is not None), default=0.0)


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_format: Format,
    describe: Callable[[Series, int], str],
    x_label: Callable[[str], str] = str,
) -> Markup:
    """Grouped bars: one group per category, one bar per series (with its `inner` part drawn inside)."""
    y_max = nice_ceiling(_peak(series), whole=True)
    parts = _frame(chart_id, title, desc, y_max, y_format)
    plot_w = WIDTH - LEFT - RIGHT
    group = plot_w / max(1, len(categories))
    bar = group * 0.8 / max(1, len(series))
    centres = [LEFT + group * (i + 0.5) for i in range(len(categories))]
    for i, key in enumerate(categories):
        for j, one in enumerate(series):
            value = one.values[i]
            if value is None:
                continue
            x = LEFT + group * i + group * 0.1 + bar * j
            top = _y(value, y_max)
            base = HEIGHT - BOTTOM
            parts.append(
                f'<g class="bar {_attr(one.css)}" data-series="{_attr(one.key)}" data-key="{_attr(key)}">'
                f"<title>{escape(describe(one, i))}</title>"
                f'<rect class="outer" x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{base - top:.1f}"/>'
            )
            inner = one.inner[i] if one.inner is not None else None
            if inner is not None:
                inner_top = _y(inner, y_max)
                parts.append(
                    f'<rect class="inner" x="{x:.1f}" y="{inner_top:.1f}" width="{bar:.1f}" '
                    f'height="{base - inner_top:.1f}"/>'
                )
            parts.append("</g>")
    parts += _x_labels(categories, centres, x_label)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_format: Format,
    describe: Callable[[Series, int], str],
    x_label: Callable[[str], str] = str,
    y_max: float | None = None,
) -> Markup:
    """One line per series over the categories; a missing value breaks the line."""
    top_value = y_max if y_max is not None else nice_ceiling(_peak(series))
    parts = _frame(chart_id, title, desc, top_value, y_format)
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(1, len(categories))
    centres = [LEFT + step * (i + 0.5) for i in range(len(categories))]
    for one in series:
        parts.append(f'<g class="line {_attr(one.css)}" data-series="{_attr(one.key)}">')
        run: list[str] = []
        for i, value in enumerate([*one.values, None]):
            if value is not None:
                run.append(f"{centres[i]:.1f},{_y(value, top_value):.1f}")
            elif run:
                parts.append(f'<polyline points="{" ".join(run)}"/>')
                run = []
        for i, (key, value) in enumerate(zip(categories, one.values, strict=True)):
            if value is not None:
                parts.append(
                    f'<circle data-key="{_attr(key)}" cx="{centres[i]:.1f}" cy="{_y(value, top_value):.1f}" '
                    f'r="3"><title>{escape(describe(one, i))}</title></circle>'
                )
        parts.append("</g>")
    parts += _x_labels(categories, centres, x_label)
    parts.append("</svg>")
    return Markup("".join(parts))
