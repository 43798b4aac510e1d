"""`ivr campaign`: create (bad values named), import (report by line), start/pause/resume/cancel, status."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select, update

from ivr.campaigns.attempts import finish_if_done
from ivr.cli.main import main
from ivr.models import Campaign, Contact

from ..campaign_helpers import attempt, contacts
from ..conftest import OPEN
from ..writes import writes


@pytest.fixture
def env(env, monkeypatch):
    """The shared commands' environment (tests/conftest.py) without an auth token: these commands make up
    or read their own."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return {name: value for name, value in env.items() if name != "TWILIO_AUTH_TOKEN"}


def run(runner, *args: str, input: str | None = None):
    return runner.invoke(main, list(args), input=input)


@pytest.fixture
def created(runner, env) -> str:
    result = run(runner, "campaign", "create", "Reminders", "--flow", "main", "--caller-id", "+15125550100",
                 "--desk", "local", "--retry", "busy=900", "--max-cps", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    return "Reminders"


def test_create_names_every_bad_value(runner, env, session) -> None:
    result = run(runner, "campaign", "create", "Bad", "--flow", "nope", "--caller-id", "5125550100",
                 "--desk", "night", "--window", "21:00-08:00", "--timezone", "Mars/Base",
                 "--max-attempts", "0", "--retry", "busy=5", "--retry", "fax=60",
                 "--machine-detection", "message", "--max-cps", "0", "--max-concurrent", "0")  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for expected in [
        "flow (--flow): no flow 'nope' in the published site (its flows: main)",
        "caller_id (--caller-id): must be a valid number in E.164, like +15125550100 (got '5125550100')",
        "desk (--desk): no desk 'night' in the published site (its desks: bpo, local)",
        "window (--window): the window must open before it closes (21:00-08:00 does not)",
        "default_timezone (--timezone): unknown time zone 'Mars/Base' (use an IANA name like "
        "America/Chicago)",
        "max_attempts (--max-attempts): must be a whole number from 1 to 10 (got 0)",
        "retry_seconds.busy (--retry): must be whole seconds from 60 to 2592000 (got '5')",
        "retry_seconds.fax (--retry): unknown outcome (one of busy, no-answer, failed, machine)",
        "machine_message (--machine-message): is required when machine_detection is message (what to leave)",
        "max_cps (--max-cps): must be a number above 0 and at most 100 (got 0.0)",
        "max_concurrent (--max-concurrent): must be a whole number from 1 to 1000 (got 0)",
        "Error: the campaign was not created",
    ]:
        assert expected in lines, expected
    assert session.scalars(select(Campaign)).all() == []


def test_create_stores_the_settings(runner, created, session) -> None:
    campaign = session.scalars(select(Campaign)).one()
    assert (campaign.name, campaign.state, campaign.desk, campaign.max_cps) == (
        "Reminders",
        "draft",
        "local",
        2.0,
    )
    assert campaign.retry_seconds["busy"] == 900
    again = run(runner, "campaign", "create", "Reminders", "--flow", "main", "--caller-id", "+15125550100")
    assert again.exit_code == 1
    assert "name (NAME): a campaign called 'Reminders' exists already" in again.output


def test_import_reports_by_line(runner, created, session, tmp_path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(
        "\ufeffphone,name,appointment\n512-555-0101,Ann,Mon\nnot a number,Bob,Tue\n"
        "(512) 555-0101,Ann,\n".encode()
    )
    result = run(runner, "campaign", "import", created, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "line 3: bad number 'not a number': not a phone number",
        "line 4: +15125550101 merged into the contact of line 2 of this file",
        "3 rows: 1 imported, 1 merged as duplicates, 1 invalid; 0 on the do-not-call list "
        "(skipped when dialled)",
    ]
    by_id = str(session.scalars(select(Campaign.id)).one())
    as_json = run(runner, "campaign", "import", by_id, "-", "--json", input="phone\n+15125550102\n")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["imported"] == 1
    bad = run(runner, "campaign", "import", created, "-", input="number\n+15125550103\n")
    assert bad.exit_code == 1
    assert "Error: nothing imported: bad header (line 1): no 'phone' column" in bad.output
    wrong_region = run(runner, "campaign", "import", created, str(path), "--region", "XX")
    assert wrong_region.exit_code == 2 and "unknown region 'XX'" in wrong_region.output
    assert sorted(contacts(session, session.scalars(select(Campaign)).one())) == [
        "+15125550101",
        "+15125550102",
    ]


def test_state_changes_and_their_errors(runner, created, session) -> None:
    empty = run(runner, "campaign", "start", created)
    assert empty.output.strip() == "Error: campaign 'Reminders' has no contacts: import a list first"
    run(runner, "campaign", "import", created, "-", input="phone\n+15125550101\n+15125550102\n")
    steps = [
        ("start", 0, "campaign Reminders started (now running)"),
        ("start", 1, "Error: cannot start a campaign that is running: only a draft one"),
        ("pause", 0, "campaign Reminders paused (now paused)"),
        ("pause", 1, "Error: cannot pause a campaign that is paused: only a running one"),
        ("resume", 0, "campaign Reminders resumed (now running)"),
        ("cancel", 0, "campaign Reminders cancelled (now cancelled)"),
        ("resume", 1, "Error: cannot resume a campaign that is cancelled: only a paused one"),
    ]
    for action, code, message in steps:
        result = run(runner, "campaign", action, created)
        assert (result.exit_code, result.output.strip()) == (code, message)
    states = {c.state for c in contacts(session, session.scalars(select(Campaign)).one()).values()}
    assert states == {"cancelled"}
    unknown = run(runner, "campaign", "pause", "Nothing")
    assert unknown.exit_code == 1 and "no campaign 'Nothing'" in unknown.output


def test_status_shows_a_progress_bar_and_the_figures(runner, created, session) -> None:
    text = "phone\n" + "".join(f"+1512555{n:04d}\n" for n in range(101, 105))
    run(runner, "campaign", "import", created, "-", input=text)
    run(runner, "campaign", "start", created)
    campaign = session.scalars(select(Campaign)).one()
    people = contacts(session, campaign)
    attempt(session, campaign, people["+15125550101"], "completed", "human", queue=("bridged", 1))
    session.execute(update(Contact).where(Contact.phone == "+15125550101").values(state="done"))
    session.commit()
    result = run(runner, "campaign", "status", created)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"campaign Reminders (id {campaign.id}): running; flow main, desk local, "
        "window 08:00-21:00 local time"
    )
    assert lines[1] == f"[{'#' * 10}{'-' * 30}] 25%  1 of 4 contacts need no more calls"
    assert "  Answered by a person                            1" in lines
    assert "  Remaining (to call or being called)             3" in lines
    assert lines[-1].startswith("  Abandonment rate: 0.0% (0 of 1 human-answered calls")
    as_json = json.loads(run(runner, "campaign", "status", created, "--json").output)
    assert as_json["figures"]["remaining"] == 3 and as_json["state"] == "running"
    listing = run(runner, "campaign", "list").output.splitlines()
    assert listing[1].split()[:5] == [str(campaign.id), "Reminders", "running", "4", "3"]


def test_status_and_list_only_read(runner, created, session) -> None:
    """A campaign with nothing left to call stays as it is: `status` and `list` neither commit nor write."""
    run(runner, "campaign", "import", created, "-", input="phone\n+15125550101\n")
    run(runner, "campaign", "start", created)
    session.execute(update(Contact).values(state="done"))  # behind the owner's back: nothing finishes it
    session.commit()
    with writes() as seen:
        shown = run(runner, "campaign", "status", created)
        as_json = run(runner, "campaign", "status", created, "--json")
        listed = run(runner, "campaign", "list")
    assert [r.exit_code for r in (shown, as_json, listed)] == [0, 0, 0] and seen == []
    assert "): running;" in shown.output and json.loads(as_json.output)["figures"]["remaining"] == 0
    session.expire_all()
    assert session.scalars(select(Campaign.state)).one() == "running"


def test_watch_follows_the_campaign_until_it_ends(runner, created, app) -> None:
    run(runner, "campaign", "import", created, "-", input="phone\n+15125550101\n")
    run(runner, "campaign", "start", created)

    def dialler() -> None:  # the last contact is reached while the bar is shown; the dialer finishes it
        with app.extensions["ivr.db"].sessionmaker() as other:
            other.execute(update(Contact).values(state="done"))
            campaign_id = other.scalars(select(Campaign.id)).one()
            assert finish_if_done(other, campaign_id, OPEN)
            other.commit()

    later = threading.Timer(1.0, dialler)
    later.start()
    started = time.monotonic()
    result = run(runner, "campaign", "status", created, "--watch", "0.5")
    later.join()
    assert time.monotonic() - started >= 1.0  # it waited for the campaign to finish
    assert result.exit_code == 0, result.output
    assert "campaign Reminders (id" in result.output and "): finished;" in result.output
    assert f"[{'#' * 40}] 100%  1 of 1 contacts need no more calls" in result.output
