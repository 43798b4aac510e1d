"""The per-segment table and power's days on the command line's table and in the CSV, read as a user would."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from ivr.cli.main import main

from .test_surfaces import CLI_ARGS, _simpson_log


def _segment_lines(output: str) -> dict[str, list[str]]:
    """The per-segment table's rows, by segment: cells split on runs of two spaces or more."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Per segment ("))
    header = re.split(r"\s{2,}", lines[start + 1].strip())
    found = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(header), (header, cells)
        found[cells[0]] = cells
    return found


@pytest.mark.parametrize("mode", ["adjusted", "raw"])
def test_the_table_has_the_per_segment_table(env, session, runner, mode):
    _simpson_log(session)
    document = json.loads(runner.invoke(main, [*CLI_ARGS, "--mode", mode, "--format", "json"]).output)
    table = runner.invoke(main, [*CLI_ARGS, "--mode", mode])
    assert table.exit_code == 0, table.output
    shown = _segment_lines(table.output)
    assert list(shown) == [entry["segment"] for entry in document["segments"]] == ["billing", "tech"]
    for entry in document["segments"]:
        cells = shown[entry["segment"]]
        local, bpo = entry["desks"]["local"], entry["desks"]["bpo"]
        assert cells[1:3] == [str(local["offered"]), str(bpo["offered"])]
        assert [float(cell.removesuffix(" s")) for cell in cells[3:5]] == pytest.approx(
            [local["aht"], bpo["aht"]], abs=0.051
        )  # shown to 0.1 s
        rate = next(row for row in entry["comparison"] if row["metric"] == "abandonment_rate")
        low, high = (float(n) for n in re.findall(r"-?\d+\.\d+", cells[7])[1:3])
        assert (low, high) == pytest.approx((rate["ci_low"] * 100, rate["ci_high"] * 100), abs=0.051)
        assert cells[7].endswith(" *") is rate["significant"]
    # tech: local abandons 8 of 20, the BPO 24 of 80 (test_modes.simpson)
    assert shown["tech"][5:7] == ["40.0 %", "30.0 %"]


def test_power_on_the_table_counts_days_with_calls(env, session, runner):
    _simpson_log(session)
    document = json.loads(runner.invoke(main, [*CLI_ARGS, "--mode", "adjusted", "--format", "json"]).output)
    power = next(row for row in document["comparison"] if row["metric"] == "abandonment_rate")["power"]
    assert power["days"] and power["more_per_desk"]
    table = runner.invoke(main, [*CLI_ARGS, "--mode", "adjusted"]).output
    line = next(line for line in table.splitlines() if line.startswith("abandonment_rate "))
    assert (
        f"about {power['more_per_desk']:,} more calls per desk (≈ {power['days']:,} days with calls)" in line
    )


@pytest.mark.parametrize("segment", [None, "tech"])
def test_the_csv_has_a_row_per_segment_and_compared_metric(env, session, runner, segment):
    _simpson_log(session)
    flags = ["--mode", "raw"] + (["--segment", segment] if segment else [])
    document = json.loads(runner.invoke(main, [*CLI_ARGS, *flags, "--format", "json"]).output)
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(main, [*CLI_ARGS, *flags, "--format", "csv"]).output))
    )
    main_rows = [row for row in rows if not row["segment"]]
    assert {row["metric"] for row in main_rows} >= {row["metric"] for row in document["comparison"]}
    assert rows[: len(main_rows)] == main_rows  # the main rows first
    by_segment = [row for row in rows if row["segment"]]
    expected = [(entry["segment"], row) for entry in document["segments"] for row in entry["comparison"]]
    assert [(row["segment"], row["metric"]) for row in by_segment] == [
        (s, row["metric"]) for s, row in expected
    ]
    for found, (_name, row) in zip(by_segment, expected, strict=True):
        assert (found["desk_a"], found["desk_b"], found["mode"]) == ("local", "bpo", "raw")
        for key in ("a", "b", "difference", "ci_low", "ci_high"):
            assert (float(found[key]) if found[key] else None) == pytest.approx(row[key]), (found, key)
    assert {row["segment"] for row in by_segment} == ({"tech"} if segment else {"billing", "tech"})
