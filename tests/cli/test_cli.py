"""The `ivr` command: flow validation, users, tokens, migrations, the worker placeholder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from ivr.accounts.users import check_login
from ivr.cli.main import main
from ivr.db import Base, make_engine
from ivr.migrations.runner import downgrade, upgrade
from ivr.models import User

from ..conftest import SAMPLE_FLOWS


@pytest.fixture
def env(env, monkeypatch):
    """The shared commands' environment (tests/conftest.py) without an auth token: these commands make up
    or read their own."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return {name: value for name, value in env.items() if name != "TWILIO_AUTH_TOKEN"}


def test_sample_flows_validate(runner):
    result = runner.invoke(main, ["flows", "validate", str(SAMPLE_FLOWS)])
    assert result.exit_code == 0, result.output
    assert "flows are valid" in result.output


def test_broken_flow_lists_every_problem_and_exits_1(runner, flows_dir):
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["greeting"]["next"] = "nowhere"
    flow["nodes"]["survey"]["prompt"] = " "
    flow["nodes"]["open_check"]["schedule"] = "weekends"
    path.write_text(json.dumps(flow))
    result = runner.invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{path}: node 'greeting': field 'next': target node 'nowhere' does not exist" in lines
    assert f"{path}: node 'survey': field 'prompt': prompt is empty" in lines
    schedule = "unknown schedule 'weekends' (schedules: support)"
    assert f"{path}: node 'open_check': field 'schedule': {schedule}" in lines
    assert lines[-1].startswith("4 error(s), ")  # and the nodes after greeting, now unreachable: warnings

    as_json = runner.invoke(main, ["flows", "validate", "--json", str(flows_dir)])
    assert as_json.exit_code == 1
    problems = json.loads(as_json.output)
    assert {
        "file": str(path),
        "node": "greeting",
        "field": "next",
        "message": "target node 'nowhere' does not exist",
        "severity": "error",
    } in problems


def test_validate_suggests_the_nearest_name_and_lists_the_desks(runner, flows_dir):
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["main_menu"]["options"]["2"]["next"] = "to_suport"
    flow["nodes"]["to_operator"]["desk"] = "lcoal"
    flow["nodes"]["open_check"]["schedule"] = "suport"
    path.write_text(json.dumps(flow))
    result = runner.invoke(main, ["flows", "validate", str(flows_dir)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    node = f"{path}: node"
    assert (
        f"{node} 'main_menu': field 'options.2': "
        "target node 'to_suport' does not exist: did you mean 'to_support'?" in lines
    )
    assert (
        f"{node} 'to_operator': field 'desk': unknown desk 'lcoal': did you mean 'local'? (desks: bpo, local)"
        in lines
    )
    assert (
        f"{node} 'open_check': field 'schedule': "
        "unknown schedule 'suport': did you mean 'support'? (schedules: support)" in lines
    )


def test_schema_errors_name_node_and_field(runner, flows_dir):
    path = flows_dir / "main.json"
    flow = json.loads(path.read_text())
    flow["nodes"]["queue"]["max_wait"] = "ten minutes"
    flow["nodes"]["greeting"]["nxt"] = "open_check"
    del flow["nodes"]["survey"]["prompt"]
    path.write_text(json.dumps(flow))
    result = runner.invoke(main, ["flows", "validate", str(flows_dir)])
    assert result.exit_code == 1
    assert (
        f"{path}: node 'queue': field 'max_wait': must be a whole number, not 'ten minutes'" in result.output
    )
    assert f"{path}: node 'greeting': unknown field 'nxt': did you mean 'next'?" in result.output
    assert f"{path}: node 'survey': field 'prompt' is required" in result.output
    assert "is not valid" not in result.output and "{" not in result.output  # no Python reprs


def test_user_create_hashes_the_password(runner, env, session):
    result = runner.invoke(main, ["user", "create", "alice"], input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User).where(User.username == "alice")).one()
    assert "a long passphrase" not in user.password_hash
    assert check_login(session, "alice", "a long passphrase") is not None
    assert check_login(session, "alice", "wrong") is None
    again = runner.invoke(main, ["user", "create", "alice", "--password", "another long one"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_user_create_refuses_short_passwords(runner, env):
    result = runner.invoke(main, ["user", "create", "bob", "--password", "short"])
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output


def test_flows_publish(runner, env, flows_dir):
    result = runner.invoke(main, ["flows", "publish"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("published version ")
    (flows_dir / "main.json").write_text("[]")
    broken = runner.invoke(main, ["flows", "publish"])
    assert broken.exit_code == 1 and "must be a JSON object" in broken.output


def test_migrations_match_the_models_and_go_both_ways(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    downgrade(database_url)
    upgrade(database_url)
    engine.dispose()


def test_dialer_refuses_to_start_without_its_settings():
    """The worker itself (SIGKILL, restart, SIGTERM) is tested in tests/test_dialer_crash.py."""
    needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")
    env = {key: value for key, value in os.environ.items() if key not in needed}
    command = [sys.executable, "-m", "ivr.cli", "dialer", "run"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "the dialer needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL" in done.stderr
