"""Incremental sync over /api/calls: updated_at on every write, after= cursors and updated_since=, the
settle window that keeps a late commit from being skipped, and migration 0008's backfill."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import column, insert, select, table

from ivr.accounts.tokens import create_token
from ivr.calls import log as calllog
from ivr.calls.log import CALLS
from ivr.migrations.runner import downgrade, upgrade
from ivr.models import Call

from ..conftest import OPEN
from ..helpers import call_row
from ..twilio import CallDriver, new_sid
from ..writes import writes

SETTLE = timedelta(seconds=60)
# what a statement writes to calls (a CTE may hold several): an UPDATE's SET list, an INSERT's columns
WRITES_CALLS = re.compile(r"UPDATE calls SET .*?(?:WHERE|$)|INSERT INTO calls \(.*?\)", re.DOTALL)


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    """The app's clock and the wall clock the log stamps its changes with, moved together."""
    moving = Clock(OPEN)
    app.config["IVR_CLOCK"] = moving
    monkeypatch.setattr(calllog, "changed_now", moving)
    app.config["SYNC_SETTLE_SECONDS"] = SETTLE.total_seconds()
    return moving


@pytest.fixture
def api(clock, client, session):
    token = create_token(session, "bi tool")
    session.commit()

    def get(path: str = "/api/calls", **params: str):
        return client.get(path, query_string=params, headers={"Authorization": f"Bearer {token}"})

    return get


def ring(twilio, clock: Clock, at: datetime, caller: str = "+15125550199") -> CallDriver:
    """A call that reaches the main menu at `at`."""
    clock.now = at
    driver = CallDriver(twilio, caller=caller)
    driver.start()
    return driver


def sync_all(api, **start: str) -> tuple[list[dict[str, Any]], str]:
    """Every page of a sync from `start`, following next; the calls in order and the cursor to resume."""
    answer = api(**start, per_page="2").json
    seen = list(answer["calls"])
    while answer["next"]:
        url = answer["next"].removeprefix("https://ivr.test")
        path, _, query = url.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&"))
        assert params["per_page"] == "2" and "updated_since" not in params
        answer = api(path, **{k: v.replace("%3D", "=") for k, v in params.items()})
        assert answer.status_code == 200, answer.json
        answer = answer.json
        seen += answer["calls"]
    return seen, answer["cursor"]


def test_every_write_of_a_call_sets_updated_at_to_the_requests_time(twilio, clock, session):
    driver = ring(twilio, clock, OPEN)
    assert call_row(session, driver.sid).updated_at == OPEN
    clock.now = OPEN + timedelta(seconds=30)
    with writes() as seen:
        twilio.status(driver.sid, "completed", 3, CallDuration="31")
    session.expire_all()
    row = call_row(session, driver.sid)
    assert row.updated_at == OPEN + timedelta(seconds=30) and row.status == "completed"
    assert any(WRITES_CALLS.search(s) for s in seen)
    clock.now = OPEN + timedelta(seconds=90)
    twilio.status(driver.sid, "ringing", 1)  # late and lower: changes nothing, so updated_at stays
    session.expire_all()
    assert call_row(session, driver.sid).updated_at == OPEN + timedelta(seconds=30)


def test_updated_at_is_when_the_row_was_written_not_the_calls_own_time(twilio, app, session):
    """A simulated or replayed call happens at its own time; its row still changes now, or a sync whose
    cursor has passed that time would never see it."""
    app.config["IVR_CLOCK"] = lambda: OPEN - timedelta(days=30)
    before = datetime.now(UTC)
    driver = CallDriver(twilio, caller="+15125550177")
    driver.start()
    row = call_row(session, driver.sid)
    assert row.started_at == OPEN - timedelta(days=30)
    assert before <= row.updated_at <= datetime.now(UTC)


def test_whole_simulated_traffic_sets_updated_at_in_every_statement(app, session):
    from ..sim.test_traffic import SAMPLE_PROFILE, _run

    with writes() as seen:
        summary = _run(app, SAMPLE_PROFILE, calls=12, seed=5).summary()
    assert summary["agent_calls"] >= 1 and summary["errors"] == 0
    to_calls = [s for s in seen if WRITES_CALLS.search(s)]
    assert len(to_calls) > 12 * 3
    writes_without = [
        part
        for statement in to_calls
        for part in WRITES_CALLS.findall(statement)
        if "updated_at" not in part  # each UPDATE's SET list and each INSERT's columns, CTEs included
    ]
    assert writes_without == []
    rows = session.scalars(select(Call)).all()
    assert all(row.updated_at >= row.started_at for row in rows)


def test_a_sync_serves_each_change_once_in_order_across_pages(twilio, clock, api):
    drivers = [ring(twilio, clock, OPEN + timedelta(seconds=10 * n), f"+1512555010{n}") for n in range(5)]
    clock.now = OPEN + timedelta(minutes=5)
    first, cursor = sync_all(api, updated_since="2026-11-24")
    assert [c["call_sid"] for c in first] == [d.sid for d in drivers]
    stamps = [c["updated_at"] for c in first]
    assert stamps == sorted(stamps) and stamps[0] == "2026-11-24T16:00:00Z"

    assert api(after=cursor).json["calls"] == []  # nothing changed since: caught up
    clock.now = OPEN + timedelta(minutes=6)
    twilio.status(drivers[1].sid, "completed", 5, CallDuration="300")
    late = ring(twilio, clock, OPEN + timedelta(minutes=6, seconds=1), "+15125550199")
    clock.now = OPEN + timedelta(minutes=8)
    again, _ = sync_all(api, after=cursor)
    assert [c["call_sid"] for c in again] == [drivers[1].sid, late.sid]  # the changed call comes again
    assert again[0]["status"] == "completed"


def test_changes_within_the_settle_window_wait_for_a_later_request(twilio, clock, api):
    early = ring(twilio, clock, OPEN)
    later = ring(twilio, clock, OPEN + timedelta(seconds=40))
    clock.now = OPEN + timedelta(seconds=70)
    answer = api(updated_since="2026-11-24").json
    assert [c["call_sid"] for c in answer["calls"]] == [early.sid]  # `later` is 30 s old: not yet
    assert answer["settled_before"] == "2026-11-24T16:00:10Z" and answer["next"] is None
    clock.now = OPEN + timedelta(seconds=101)
    assert [c["call_sid"] for c in api(after=answer["cursor"]).json["calls"]] == [later.sid]


def test_a_change_that_commits_late_is_not_skipped(app, twilio, clock, api):
    """A transaction that read its time at t1 and commits after one that read t2 > t1 (the row of t1 is
    written last here) is still served: a cursor never passes a time younger than the settle window."""
    clock.now = OPEN + timedelta(seconds=10)
    second = ring(twilio, clock, OPEN + timedelta(seconds=10))
    clock.now = OPEN + timedelta(seconds=59)
    before = api(updated_since="2026-11-24").json
    assert before["calls"] == []  # the committed change of t2 is held back...
    first = ring(twilio, clock, OPEN)  # ...while the one of t1 commits only now
    clock.now = OPEN + timedelta(seconds=75)
    answer = api(after=before["cursor"]).json
    assert [c["call_sid"] for c in answer["calls"]] == [first.sid, second.sid]


def test_sync_keeps_the_filters_that_never_change_and_the_partners_desk(twilio, clock, api, session, client):
    ring(twilio, clock, OPEN, "+15125550101")
    ring(twilio, clock, OPEN, "+15125550102")
    clock.now = OPEN + timedelta(minutes=2)
    answer = api(updated_since="2026-11-24", number="+15125550102", legs="all").json
    assert [c["from"] for c in answer["calls"]] == ["+15125550102"]
    token = create_token(session, "bpo viewer", desk="bpo")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    partner = client.get("/api/calls", query_string={"updated_since": "2026-11-24"}, headers=headers)
    assert partner.status_code == 200 and partner.json["calls"] == []  # no call reached the BPO desk


def test_an_agent_leg_is_synced_as_every_leg_is(twilio, clock, api):
    """The agent line's first status callback logs a leg before /voice/incoming marks it an agent's: a
    sync by role would keep it as a caller's; every leg is synced, with its role as it changes."""
    sid = new_sid()
    twilio.status(sid, "ringing", 1, From="+17375550101", To="+15125550199")
    clock.now = OPEN + timedelta(minutes=2)
    first, cursor = sync_all(api, updated_since="2026-11-24")
    assert [(c["call_sid"], c["role"]) for c in first] == [(sid, "caller")]
    agent = CallDriver(twilio, caller="+17375550101", called="+15125550199", sid=sid)
    agent.start()
    clock.now = OPEN + timedelta(minutes=4)
    again, _ = sync_all(api, after=cursor)
    assert [(c["call_sid"], c["role"]) for c in again] == [(sid, "agent")]


@pytest.mark.parametrize("name", ["desk", "status", "outcome", "legs"])
def test_filters_on_what_a_call_changes_are_refused_when_syncing(api, name):
    value = {"desk": "local", "status": "completed", "outcome": "answered", "legs": "callers"}[name]
    response = api(updated_since="2026-11-24", **{name: value})
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith(f"{name}: not with after or updated_since")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"after": "not-a-cursor"}, "after: 'not-a-cursor' is not a cursor of this API"),
        ({"after": "eyJ1IjoiMjAyNiJ9"}, "after: "),
        ({"after": "x", "updated_since": "2026-11-24"}, "after: give after (a cursor) or updated_since"),
        ({"updated_since": "last week"}, "updated_since: 'last week' is not an ISO 8601 date"),
        ({"updated_since": "2026-11-24", "page": "2"}, "page: not with after or updated_since"),
    ],
)
def test_bad_sync_parameters_are_400(api, params, message):
    response = api(**params)
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith(message)


# calls as revision 0007 has them
OLD_CALLS = table("calls", *(column(c.name, c.type) for c in CALLS.c if c.name != "updated_at"))


@pytest.fixture
def at_0007(app, database_url: str) -> Iterator[str]:
    app.extensions["ivr.db"].engine.dispose()
    downgrade(database_url, "0007")
    try:
        yield database_url
    finally:
        upgrade(database_url)


def test_migration_0008_backfills_updated_at_from_the_end_else_the_start(app, at_0007):
    engine = app.extensions["ivr.db"].engine
    start, end = datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 9, 5, tzinfo=UTC)
    common = {"account_sid": "AC1", "direction": "inbound", "role": "caller", "from_number": "+1",
              "to_number": "+2", "status_rank": 4, "errors": 0,
              "variables": {}, "tries": {}, "started_at": start}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(OLD_CALLS).values(call_sid="ended", status="completed", ended_at=end, **common))
        conn.execute(insert(OLD_CALLS).values(call_sid="open", status="in-progress", **common))
    upgrade(at_0007)
    with engine.connect() as conn:
        found = dict(conn.execute(select(CALLS.c.call_sid, CALLS.c.updated_at)).all())
    assert found == {"ended": end, "open": start}
