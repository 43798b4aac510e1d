"""`ivr report staffing`: the agents a service level needs, for people and as JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ivr.cli.main import main


def staffing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", "staffing", *args])
    return result.exit_code, result.output


def test_erlang_c_staffing_as_json():
    # The Call Centre Helper example (200 calls an hour, AHT 180 s, 80% within 20 s): 14 agents
    code, output = staffing("--calls-per-hour", "200", "--aht", "180", "--format", "json")
    assert code == 0, output
    found = json.loads(output)
    assert found["agents"] == 14
    assert found["model"] == "erlang_c"
    assert found["service_level"] == pytest.approx(0.88835, abs=5e-6)
    assert found["asa"] == pytest.approx(7.8359, abs=5e-5)
    assert found["occupancy"] == pytest.approx(10 / 14)
    assert found["abandon_rate"] is None


def test_patience_gives_erlang_a_with_its_abandon_rate():
    common = ("--calls-per-hour", "200", "--aht", "180", "--target", "0.9", "--within", "30")
    common += ("--format", "json")
    code, output = staffing(*common, "--patience", "120")
    assert code == 0, output
    found = json.loads(output)
    waiting = json.loads(staffing(*common)[1])
    assert (found["model"], waiting["model"]) == ("erlang_a", "erlang_c")
    assert found["service_level"] >= 0.9
    assert 0 < found["abandon_rate"] < 0.1
    assert found["agents"] < waiting["agents"]  # callers who hang up shorten the queue for the others


def test_the_table_says_what_was_assumed():
    code, output = staffing("--calls-per-hour", "200", "--aht", "180")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "200 calls an hour x 180 s = 10.00 Erlangs (Erlang C, callers wait)"
    assert "agents needed  14" in lines
    assert "service level  88.8% answered within 20 s (target 80%)" in lines
    assert "abandon rate   -" in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calls-per-hour", "0", "--aht", "180"], "--calls-per-hour: 0.0 must be more than 0"),
        (["--calls-per-hour", "200", "--aht", "nan"], "--aht: nan is not a number"),
        (["--calls-per-hour", "200", "--aht", "180", "--target", "80"], "--target: 80.0 must be a share"),
        (["--calls-per-hour", "200", "--aht", "180", "--patience", "-3"], "--patience: -3.0 must be more"),
        (["--calls-per-hour", "200", "--aht", "180", "--within", "-1"], "--within: -1.0 must be from 0"),
        (["--calls-per-hour", "200", "--aht", "soon"], "'soon' is not a valid float"),
        (["--aht", "180"], "Missing option '--calls-per-hour'"),
        (["--calls-per-hour", "200", "--aht", "180", "--format", "xml"], "'xml' is not one of"),
    ],
)
def test_bad_values_are_usage_errors(args, message):
    code, output = staffing(*args)
    assert code == 2
    assert message in output
