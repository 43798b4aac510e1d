"""The comparison document of two desks in one mode, assembled from their sums (pure: no database here).
Its keys are the contract of `ivr.metrics.compare`, the API, the page's JSON and the CLI's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import costs
from . import adjusted, equal_service, modes
from .definitions import Cell, DeskSums, MetricSettings, definitions, ratio, summable_figures
from .labels import label_of
from .needed import power_of
from .params import Asked
from .report import (
    COST_METRICS,
    MEAN_METRICS,
    RATE_METRICS,
    DeskData,
    breakdowns,
    comparison,
    desk_figures,
    local_slices,
    period_of,
    rates_and_means,
    unpriced_row,
)

ESTIMATES = (*RATE_METRICS, *MEAN_METRICS)  # the rows with an interval
NO_ARM_COSTS = "not shown in the randomised mode: a desk's agent hours belong to no arm (costs: see the raw "
NO_ARM_COSTS += "mode, and cost at equal service below)"
# which calls equal service staffs for, per mode (the verdict says it)
COVERING = {
    "randomised": "on the calls a split assigned",
    "adjusted": "on the segments both desks serve",
    "raw": "on every call of each desk: different work",
}


@dataclass(frozen=True)
class Sums:
    """What the database summed for one desk: the selected calls (`data`), and every call's sums and
    repeats per (segment, arm)."""

    data: DeskData
    cells: Mapping[Cell, DeskSums]
    repeated: Mapping[Cell, int]


def _per_segment(sums: Sums, segment: str | None) -> tuple[dict[str, DeskSums], dict[str, int]]:
    """The desk's sums and repeats per segment, both arms (within the segment asked for)."""
    found: dict[str, DeskSums] = {}
    repeats: dict[str, int] = {}
    for (cell_segment, _arm), cell in sums.cells.items():
        if segment is None or cell_segment == segment:
            found[cell_segment] = found[cell_segment].plus(cell) if cell_segment in found else cell
    for (cell_segment, _arm), n in sums.repeated.items():
        if segment is None or cell_segment == segment:
            repeats[cell_segment] = repeats.get(cell_segment, 0) + n
    return found, repeats


def days_with_calls(per_day: Mapping[str, DeskSums]) -> float:
    """The days on which a desk was offered a call; at least 1."""
    return float(max(1, sum(1 for found in per_day.values() if found.offered)))


def _own_zone(sums: Sums) -> equal_service.DeskHours:
    """The desk's selected calls per hour of day in its own time zone, over the days it had calls there."""
    hours, per_day = local_slices(sums.data.buckets, sums.data.desk.timezone)
    return equal_service.DeskHours(sums.data.desk, hours, days_with_calls(per_day), sums.data.repeated)


def _segments(
    pair: tuple[Sums, Sums], names: tuple[str, str], segment: str | None, described: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each segment either desk served: both desks' figures, and their rates and means compared."""
    split = [_per_segment(sums, segment) for sums in pair]
    offered: dict[str, int] = {}
    for found, _repeats in split:
        for key, sums in found.items():
            if sums.offered:
                offered[key] = offered.get(key, 0) + sums.offered
    table = []
    for key in sorted(offered, key=lambda key: (-offered[key], key)):
        totals = (split[0][0].get(key, DeskSums()), split[1][0].get(key, DeskSums()))
        repeats = (split[0][1].get(key, 0), split[1][1].get(key, 0))
        figures = {
            name: summable_figures(total) | {"repeated": n, "repeat_rate": ratio(n, total.answered)}
            for name, total, n in zip(names, totals, repeats, strict=True)
        }
        rows = rates_and_means(names, totals, repeats)
        table.append({
            "segment": key,
            "desks": figures,
            "comparison": [rows[metric] | {"label": label_of(metric, described)} for metric in ESTIMATES],
        })  # fmt: skip
    return table


def _mode_figures(
    pair: tuple[Sums, Sums], choice: modes.Choice, segment: str | None
) -> tuple[
    tuple[dict[str, Any], dict[str, Any]], list[dict[str, Any]], tuple[DeskSums, DeskSums], tuple[int, int]
]:
    """Both desks' figures and the comparison rows in the chosen mode, with the sums their sizes come from."""
    first, second = pair[0].data, pair[1].data
    names = (first.desk.name, second.desk.name)
    if choice.mode == "adjusted":
        split = [_per_segment(sums, segment) for sums in pair]
        made = [adjusted.desk_figures(s.data.desk, choice.weights, *split[i]) for i, s in enumerate(pair)]
        figures = (made[0][0], made[1][0])
        rows = adjusted.comparison(names, figures, (made[0][1], made[1][1]))
        totals = tuple(
            DeskSums.total(found.get(s, DeskSums()) for s in choice.weights) for found, _r in split
        )
        repeats = tuple(sum(found.get(s, 0) for s in choice.weights) for _f, found in split)
        return figures, rows, (totals[0], totals[1]), (repeats[0], repeats[1])
    figures = (desk_figures(first), desk_figures(second))
    rows = comparison(first, second, figures)
    if choice.mode == "randomised":
        figures = (figures[0] | dict.fromkeys(COST_METRICS), figures[1] | dict.fromkeys(COST_METRICS))
        rows = [unpriced_row(row["metric"], NO_ARM_COSTS) if row["kind"] == "cost" else row for row in rows]
    return figures, rows, (first.total, second.total), (first.repeated, second.repeated)


def build(
    pair: tuple[Sums, Sums], choice: modes.Choice, since: datetime | None, until: datetime | None,
    settings: MetricSettings, zone: str, asked: Asked,
) -> dict[str, Any]:  # fmt: skip
    """The whole comparison as JSON-able data, in the chosen mode (the contract of `ivr.metrics.compare`)."""
    first, second = pair[0].data, pair[1].data
    names = (first.desk.name, second.desk.name)
    described = (
        definitions(settings)
        | modes.definitions()
        | equal_service.definitions(asked.target, asked.within)
        | {"prices": {data.desk.name: costs.describe(data.desk) for data in (first, second)}}
    )
    figures, rows, totals, repeats = _mode_figures(pair, choice, asked.segment)
    hours = [_own_zone(sums) for sums in pair]
    days = (hours[0].days, hours[1].days)  # power's days: each desk's, in its own zone
    covering = (f"in segment {asked.segment}, " if asked.segment else "") + COVERING[choice.mode]
    return {
        "period": period_of(since, until),
        "timezone": zone,
        "mode": choice.mode,
        "mode_reason": choice.reason,
        "modes": choice.modes,
        "segment": asked.segment,
        "segment_choices": modes.every_segment(
            {name: sums.cells for name, sums in zip(names, pair, strict=True)}, names
        ),
        "case_mix": modes.case_mix(
            {name: sums.cells for name, sums in zip(names, pair, strict=True)},
            names,
            asked.segment,
            choice.modes,
        ),
        "definitions": described,
        "desks": {figures[0]["desk"]: figures[0], figures[1]["desk"]: figures[1]},
        "comparison": [
            row
            | {
                "label": label_of(row["metric"], described),
                "mode": choice.mode,
                "power": power_of(row, totals, repeats, asked.detect, days),
            }
            for row in rows
        ],
        "segments": _segments(pair, names, asked.segment, described),
        "breakdowns": breakdowns(first, second, zone),
        "equal_service": equal_service.equal_service(
            hours[0], hours[1], asked.target, asked.within, covering, same_volume=True
        ),
    }
