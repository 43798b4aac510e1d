"""Agent PINs: wrong ones throttled per calling number, per line and per agent (a stranger is stopped before a
real agent is locked), 6 digits for new PINs with short old ones flagged and expirable, and nothing typed at
the agent prompts kept in clear anywhere in the call log or the logs."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from werkzeug.security import generate_password_hash

from ivr.accounts.agents import (
    BY_AGENT,
    BY_CALLER,
    BY_LINE,
    SignIn,
    create_agent,
    find_agent,
    verify_agent,
)
from ivr.accounts.throttle import current_locks
from ivr.cli.main import main
from ivr.db import utcnow
from ivr.models import Agent

from ..conftest import OPEN
from ..helpers import call_row, events
from ..twilio import CallDriver, TwilioClient
from .test_agent_line import AGENT_LINE, AGENT_PHONE, WRONG_PAIR, said

PHONE_LOCKED = "Too many wrong PINs from this phone. Please try again later. Goodbye."
LINE_LOCKED = "Too many wrong PINs on this line. Please try again later, or call another agent line. Goodbye."


def attempt(twilio: TwilioClient, phone: str, pairs: list[tuple[str, str]]) -> tuple[CallDriver, str]:
    """One call from `phone` keying in each (id, PIN) in turn; the call and what it heard last."""
    driver = CallDriver(twilio, caller=phone, called=AGENT_LINE)
    document = driver.start()
    for agent_id, pin in pairs:
        document = driver.press(driver.press(document, agent_id), pin)
    return driver, said(document)


def locks(session, scope: str, now: datetime = OPEN) -> list[str]:
    session.expire_all()
    return [lock.key for lock in current_locks(session, now, scope)]


def test_a_phone_that_keeps_guessing_locks_only_itself(twilio, session, agents):
    _call, heard = attempt(twilio, "+14155550001", [("1001", "000000")] * 3)
    assert heard == f"{WRONG_PAIR} Too many attempts. Goodbye."
    call, heard = attempt(twilio, "+14155550001", [("1001", "000001"), ("1001", "000002")])
    assert heard == PHONE_LOCKED  # the 5th wrong PIN from this phone
    assert events(session, call.sid, "agent_locked_out")[0].data == {"attempts": 2, "by": "caller"}
    _call, heard = attempt(twilio, "+14155550001", [("1001", "432198")])
    assert heard == PHONE_LOCKED  # even the right PIN: the phone is locked, not the agent
    assert locks(session, BY_CALLER.scope) == ["+14155550001"]
    assert locks(session, BY_LINE.scope) == [] and locks(session, BY_AGENT.scope) == []
    _call, heard = attempt(twilio, AGENT_PHONE, [("1001", "432198")])
    assert heard.startswith("Welcome, Ana. You are signed in.")


def test_a_locked_line_ends_a_call_at_its_first_wrong_pin_but_takes_a_right_one(twilio, session, agents, env):
    for n in range(2):  # two phones, five wrong PINs each: the line's limit (10) before Ana's (20)
        phone = f"+1415555010{n}"
        attempt(twilio, phone, [("1001", "000000")] * 3)
        _call, heard = attempt(twilio, phone, [("1001", "000000")] * 2)
    assert heard == LINE_LOCKED  # the 10th: the line's lock is told before the phone's
    assert locks(session, BY_LINE.scope) == [AGENT_LINE] and locks(session, BY_AGENT.scope) == []
    _call, heard = attempt(twilio, "+14155550199", [("1001", "000000")])
    assert heard == LINE_LOCKED  # a new phone's first wrong PIN ends its call: each guess costs a call
    _call, heard = attempt(twilio, AGENT_PHONE, [("1001", "432198")])
    assert heard.startswith("Welcome, Ana. You are signed in.")  # strangers cannot shut agents out
    lifted = CliRunner().invoke(main, ["agent", "unlock", "--line", AGENT_LINE])
    assert lifted.exit_code == 0
    assert lifted.output.strip() == f"line {AGENT_LINE}: lock lifted, wrong PINs forgotten"
    _call, heard = attempt(twilio, "+14155550198", [("1001", "000000"), ("1001", "432198")])
    assert heard.startswith("Welcome, Ana. You are signed in.")  # a wrong PIN may be retried again


def test_withheld_callers_share_no_lock(twilio, session, agents, env):
    for _ in range(3):  # more wrong PINs than one phone may key in, all from withheld numbers
        attempt(twilio, "+266696687", [("1001", "000000")] * 2)
    assert locks(session, BY_CALLER.scope) == []
    _call, heard = attempt(twilio, "+266696687", [("1001", "432198")])
    assert heard.startswith("Welcome, Ana. You are signed in.")


def test_an_agent_locked_from_many_lines_and_phones_is_unlocked_by_an_admin(session, agents, env):
    ana, now = find_agent(session, "1001"), utcnow()  # the command line runs on the wall clock
    for n in range(BY_AGENT.limit):  # never 5 from one phone nor 10 on one line
        checked = verify_agent(session, ana, "000000", f"+1415555{n:04d}", f"+1512555{n % 3:04d}", now)
        assert checked == SignIn(None, None)
    session.commit()
    assert locks(session, BY_AGENT.scope, now) == ["1001"]
    refused = verify_agent(session, ana, "432198", AGENT_PHONE, AGENT_LINE, now)
    assert (refused.agent, refused.locked) == (None, None)  # told as a wrong pair: the id is not confirmed
    session.commit()
    listed = CliRunner().invoke(main, ["agent", "list"]).output.splitlines()
    assert [row.split()[:4] for row in listed if row.startswith("1001")] == [
        ["1001", "local", "locked", "ok"]
    ]
    unlocked = CliRunner().invoke(main, ["agent", "unlock", "1001"])
    assert unlocked.output.strip() == "agent 1001: lock lifted, wrong PINs forgotten"
    session.expire_all()
    assert verify_agent(session, find_agent(session, "1001"), "432198", AGENT_PHONE, AGENT_LINE, now).agent
    session.commit()
    again = CliRunner().invoke(main, ["agent", "unlock", "1001"])
    assert again.output.strip() == "agent 1001: nothing to lift"


def test_an_agents_lock_ends_by_itself(session, agents):
    ana = find_agent(session, "1001")
    for n in range(BY_AGENT.limit):
        verify_agent(session, ana, "000000", f"+1415555{n:04d}", f"+1512555{n % 3:04d}", OPEN)
    assert BY_AGENT.lockout is not None
    later = OPEN + BY_AGENT.lockout
    just_before = later - timedelta(seconds=1)
    assert verify_agent(session, ana, "432198", AGENT_PHONE, AGENT_LINE, just_before).agent is None
    assert verify_agent(session, ana, "432198", AGENT_PHONE, AGENT_LINE, later).agent is ana


def test_the_right_pin_clears_the_phones_count(session, agents):
    ana = find_agent(session, "1001")
    for _ in range(BY_CALLER.limit - 1):
        verify_agent(session, ana, "000000", AGENT_PHONE, AGENT_LINE, OPEN)
    assert verify_agent(session, ana, "432198", AGENT_PHONE, AGENT_LINE, OPEN).agent is ana
    assert verify_agent(session, ana, "000000", AGENT_PHONE, AGENT_LINE, OPEN).locked is None
    assert locks(session, BY_CALLER.scope) == []


def test_unknown_ids_count_against_the_phone_and_the_line(session, agents):
    for n in range(BY_CALLER.limit):
        checked = verify_agent(session, None, "432198", AGENT_PHONE, AGENT_LINE, OPEN + timedelta(seconds=n))
    assert checked.locked == "caller"
    assert locks(session, BY_CALLER.scope) == [AGENT_PHONE]


def test_a_pin_under_six_digits_set_before_still_signs_in_until_an_admin_expires_it(twilio, session, env):
    short = generate_password_hash("4321")
    old = Agent(agent_id="1001", desk="local", name="Ana", pin_hash=short, active=True)
    old.short_pin = None  # as migration 0013 leaves an agent: the PIN's length is unknown
    session.add(old)
    create_agent(session, "2001", "bpo", "555512", "Bo")
    session.commit()
    cli = CliRunner()
    before = cli.invoke(main, ["agent", "list"]).output.splitlines()
    assert before[1].split()[:4] == ["2001", "bpo", "active", "ok"]
    assert before[2].split()[:4] == ["1001", "local", "active", "unchecked"]
    assert before[-1].startswith("1 agent(s) without a known 6-digit PIN")
    _call, heard = attempt(twilio, AGENT_PHONE, [("1001", "4321")])
    assert heard.startswith("Welcome, Ana. You are signed in.")
    assert json.loads(cli.invoke(main, ["agent", "list", "--json"]).output)[1]["pin"] == "short"

    expired = cli.invoke(main, ["agent", "expire-pin", "--short"])
    assert expired.output.strip() == "1 PIN(s) expired: 1001"
    call, heard = attempt(twilio, AGENT_PHONE, [("1001", "4321")])
    assert heard == "Your PIN has expired. Please ask your supervisor for a new one. Goodbye."
    assert events(session, call.sid, "agent_refused")[0].data["reason"] == "pin_expired"
    assert call_row(session, call.sid).desk is None

    assert cli.invoke(main, ["agent", "pin", "1001"], env={"IVR_AGENT_PIN": "4321"}).exit_code == 1
    renewed = cli.invoke(main, ["agent", "pin", "1001"], input="86420975\n86420975\n")
    assert renewed.exit_code == 0 and renewed.output.strip().endswith("agent 1001 has a new PIN")
    _call, heard = attempt(twilio, AGENT_PHONE, [("1001", "86420975")])
    assert heard.startswith("Welcome, Ana. You are signed in.")
    assert cli.invoke(main, ["agent", "list"]).output.splitlines()[-1].split()[3] == "ok"


def test_expire_pin_names_agents_or_needs_short(env, session, agents):
    cli = CliRunner()
    assert cli.invoke(main, ["agent", "expire-pin"]).exit_code == 2
    assert "no agent 4040" in cli.invoke(main, ["agent", "expire-pin", "4040"]).output
    assert cli.invoke(main, ["agent", "expire-pin", "2001"]).output.strip() == "1 PIN(s) expired: 2001"
    assert cli.invoke(main, ["agent", "unlock"]).exit_code == 2
    assert cli.invoke(main, ["agent", "unlock", "--caller", AGENT_PHONE]).output.strip() == (
        f"calling number {AGENT_PHONE}: nothing to lift"
    )


def _everything_stored(session) -> str:
    """Every column of every calls, call_events and throttles row, as text."""
    session.expire_all()
    rows = []
    for table in ("calls", "call_events", "throttles"):
        rows += [list(row) for row in session.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
    return json.dumps(rows, default=str)


@pytest.mark.parametrize("outcome", ["wrong", "signed in"])
def test_nothing_typed_at_the_agent_prompts_is_kept_in_clear(twilio, session, agents, caplog, outcome):
    caplog.set_level(logging.DEBUG)
    typed = ["97531864", "8642097", "24681357"]  # a PIN keyed at the id prompt, an unknown id, a wrong PIN
    call = CallDriver(twilio, caller=AGENT_PHONE, called=AGENT_LINE)
    document = call.press(call.press(call.start(), typed[0]), typed[2])
    if outcome == "signed in":
        document = call.press(call.press(document, typed[1]), "432198")
        document = call.press(call.press(document, "1001"), "432198")
        assert said(document).startswith("Welcome, Ana.")
    else:
        document = call.press(document, typed[1])  # the line holds the id while it waits for the PIN
    stored = _everything_stored(session)
    for digits in [*typed, "432198"]:
        assert digits not in stored and digits not in caplog.text
    row = call_row(session, call.sid)
    kept = row.variables.get("entered_id_hash")
    if outcome == "wrong":  # waiting for the PIN: only the keyed hash of the typed id is held
        assert kept is not None and len(kept) == 64
    else:
        assert (row.agent, row.variables) == ("1001", {})  # the agent who signed in, as the account
    entered = [e.data for e in events(session, call.sid, "agent_id_entered")]
    assert entered[:2] == [{"digits": 8}, {"digits": 7}]
    assert session.scalars(select(Agent.pin_hash)).all()  # the hashes are still there, salted
