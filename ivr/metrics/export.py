"""A desk comparison as rows and as CSV, one row per metric (then per segment and compared metric): the same
for the web page, the API and CLI."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..calls.cells import safe_row

CSV_COLUMNS = (
    "metric", "kind", "unit", "desk_a", "desk_b", "a", "b", "difference", "ci_low", "ci_high", "significant",
    "verdict", "mode", "segment",
)  # fmt: skip
SEGMENT_MODE = "raw"  # a segment's rows compare every call of it at each desk, as it came (both arms)
PERCENTILES = ("wait_p50", "wait_p90")


def _percentile_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    a, b = (result["desks"][name] for name in result["desks"])
    rows = []
    verdict = "percentile: no interval"
    if result.get("mode") == "adjusted":
        verdict = "percentile: not standardised (see the raw mode)"
    for metric in PERCENTILES:
        va, vb = a[metric], b[metric]
        rows.append({
            "metric": metric, "kind": "percentile", "unit": "s", "a": va, "b": vb,
            "difference": va - vb if va is not None and vb is not None else None, "ci_low": None,
            "ci_high": None, "significant": None, "verdict": verdict,
            "mode": result.get("mode"),
        })  # fmt: skip
    return rows


def all_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison rows with the wait percentiles after ASA."""
    rows = list(result["comparison"])
    at = next((i + 1 for i, row in enumerate(rows) if row["metric"] == "asa"), len(rows))
    return rows[:at] + _percentile_rows(result) + rows[at:]


def segment_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-segment table's compared rates and means, each row naming its segment (every call of it)."""
    return [
        row | {"segment": entry["segment"], "mode": SEGMENT_MODE}
        for entry in result["segments"]
        for row in entry["comparison"]
    ]


def csv_text(result: dict[str, Any]) -> str:
    """One CSV row per metric (segment empty), then one per segment and compared rate or mean: both values,
    the difference, its 95% interval and the verdict."""
    names = list(result["desks"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    desks = {"desk_a": names[0], "desk_b": names[1]}
    for row in all_rows(result):
        writer.writerow(safe_row(row | desks | {"segment": ""}))
    for row in segment_rows(result):
        writer.writerow(safe_row(row | desks))
    return buffer.getvalue()
