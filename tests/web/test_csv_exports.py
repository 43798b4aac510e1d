"""Every CSV export (calls: page and API; comparison: page and CLI) neutralises cells a spreadsheet would run
as a formula (starting with =, -, @, tab or carriage return) and keeps E.164 numbers (+...) as they are."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ivr.accounts.tokens import create_token
from ivr.calls.cells import safe_cell
from ivr.cli.main import main

from .test_compare import SINCE, UNTIL, _call
from .test_compare_modes import _segment

FORMULAS = ('=HYPERLINK("https://evil.example")', "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1")
AT = datetime(2026, 11, 20, 15, tzinfo=UTC)


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_gets_an_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["+15125550100", "local", "", 42, -3.5, None])
def test_numbers_and_plain_text_are_left_alone(value):
    assert safe_cell(value) == value


@pytest.fixture
def formulas(session) -> list[str]:
    """Calls whose caller, agent, path and recording address start like formulas; their SIDs."""
    rows = []
    for text in FORMULAS:
        row = _call("local", AT, "bridged", 10, talk_time=100, agent=text, recording_url=text)
        row.from_number, row.path = text, text
        rows.append(row)
    session.add_all(rows)
    session.commit()
    return [row.call_sid for row in rows]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _check_calls(rows: list[dict[str, str]], sids: list[str]) -> None:
    found = {row["call_sid"]: row for row in rows}
    for sid, text in zip(sids, FORMULAS, strict=True):
        row = found[sid]
        for field in ("from", "agent", "path", "recording_url"):
            assert row[field] == "'" + text, (field, row[field])
        assert row["to"] == "+15125550100"  # E.164: no apostrophe


def test_the_call_list_export_neutralises_formulas(ops, formulas):
    response = ops.get(f"/calls.csv?since={SINCE}&until={UNTIL}")
    assert response.status_code == 200
    _check_calls(_rows(response.get_data(as_text=True)), formulas)


def test_the_api_export_neutralises_formulas(client, session, formulas):
    token = create_token(session, "exports")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(f"/api/calls.csv?since={SINCE}&until={UNTIL}", headers=headers)
    assert response.status_code == 200
    _check_calls(_rows(response.get_data(as_text=True)), formulas)


@pytest.fixture
def formula_segment(session) -> str:
    """Calls of a segment whose label starts like a formula, at both desks."""
    label = "=cmd|' /C calc'!A0"
    session.add_all(_segment("local", label, "split", 12, 2, 10, 300))
    session.add_all(_segment("bpo", label, "split", 12, 3, 20, 300))
    session.commit()
    return label


def _check_compare(rows: list[dict[str, str]], label: str) -> None:
    segments = {row["segment"] for row in rows if row["segment"]}
    assert segments == {"'" + label}
    negative = [row for row in rows if row["difference"].startswith("-")]
    assert negative  # numbers stay numbers: a negative difference is not text
    for row in negative:
        float(row["difference"])


def test_the_comparison_export_neutralises_formulas(ops, formula_segment):
    response = ops.get(f"/reports/compare.csv?since={SINCE}&until={UNTIL}")
    assert response.status_code == 200, response.data[:500]
    _check_compare(_rows(response.get_data(as_text=True)), formula_segment)


def test_the_cli_comparison_neutralises_formulas(runner, env, formula_segment):
    args = ["report", "compare", "local", "bpo", "--since", SINCE, "--until", UNTIL, "--format", "csv"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    _check_compare(_rows(result.output), formula_segment)
