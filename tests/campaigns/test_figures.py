"""Campaign figures: every dialled call in one outcome, contacts by state, the abandonment rate vs 3%."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from ivr.campaigns.attempts import advance
from ivr.campaigns.figures import Abandonment, attempt_outcome, figures, is_abandoned
from ivr.campaigns.service import change_state
from ivr.campaigns.tally import campaign_figures
from ivr.models import Contact

from ..campaign_helpers import attempt, contacts, load, new_campaign
from ..conftest import OPEN


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        ("pending", None, "not_dialled"),
        ("queued", None, "in_progress"),
        ("ringing", None, "in_progress"),
        ("in-progress", "human", "human"),
        ("completed", None, "human"),  # no machine detection: a person is assumed
        ("completed", "unknown", "human"),
        ("completed", "machine_end_beep", "machine"),
        ("completed", "fax", "machine"),
        ("busy", None, "busy"),
        ("no-answer", None, "no_answer"),
        ("failed", None, "failed"),
        ("canceled", None, "failed"),
    ],
)
def test_each_attempt_counts_in_one_figure(status: str, answered_by: str | None, outcome: str) -> None:
    assert attempt_outcome(status, answered_by) == outcome


@pytest.mark.parametrize(
    ("result", "queue_time", "abandoned"),
    [
        ("bridged", 0, False),
        ("bridged", 2, False),
        ("bridged", 3, True),
        ("bridged", None, True),  # a desk reached by dialling reports no queue time
        ("redirected-from-bridged", 1, False),
        ("hangup", 1, True),
        (None, None, True),  # never reached the desk
    ],
)
def test_abandoned_means_no_agent_within_two_seconds(
    result: str | None, queue_time: int | None, abandoned: bool
) -> None:
    assert is_abandoned(result, queue_time) is abandoned


def test_the_rate_against_the_limit_in_words() -> None:
    assert Abandonment(applicable=False).describe().startswith("not applicable")
    assert Abandonment(applicable=False, answered=10, abandoned=5).rate is None
    assert Abandonment(applicable=True).describe() == "no human-answered calls yet (limit 3%)"
    within = Abandonment(applicable=True, answered=100, abandoned=3)
    assert (within.rate, within.over_limit) == (0.03, False)
    assert within.describe().endswith("within the 3% limit")
    over = Abandonment(applicable=True, answered=100, abandoned=4)
    assert over.over_limit is True
    assert over.describe().startswith("4.0% (4 of 100 human-answered calls in the last 30 days")
    assert over.describe().endswith("ABOVE the 3% limit")


def test_figures_from_counted_rows() -> None:
    result = figures(
        [("pending", None, 5), ("pending", "deferred-window", 2), ("dialling", None, 1), ("done", "human", 4)]
        + [("skipped", "do-not-call", 2), ("failed", "busy", 1), ("cancelled", None, 3)],
        [("completed", None, 3), ("completed", "machine_start", 1), ("busy", None, 2), ("pending", None, 1)]
        + [("ringing", None, 1), ("failed", None, 1), ("no-answer", None, 2)],
        Abandonment(applicable=True, answered=3, abandoned=1),
    )
    assert result.as_dict() | {"abandonment": None} == {
        "contacts": 18,
        "remaining": 8,
        "deferred_window": 2,
        "skipped_do_not_call": 2,
        "done": 4,
        "exhausted": 1,
        "cancelled": 3,
        "dialled": 10,
        "in_progress": 1,
        "answered_human": 3,
        "answered_machine": 1,
        "no_answer": 2,
        "busy": 2,
        "failed": 1,
        "abandonment": None,
        "progress": round(10 / 18, 4),
    }
    assert result.dialled == sum(
        (result.in_progress, result.answered_human, result.answered_machine, result.no_answer)
        + (result.busy, result.failed)
    )


TEN = "".join(f"+1512555{n:04d}\n" for n in range(101, 111))


def test_counted_from_the_database_with_the_abandonment_rate(app, session) -> None:
    campaign = new_campaign(app, session, desk="local")
    load(session, campaign, "phone\n" + TEN)
    people = list(contacts(session, campaign).values())
    old = OPEN - timedelta(days=31)
    attempt(session, campaign, people[0], "completed", "human", queue=("bridged", 1))  # connected in time
    attempt(session, campaign, people[1], "completed", None, queue=("bridged", 2))  # connected in time
    attempt(session, campaign, people[2], "completed", "human", queue=("bridged", 9))  # too late
    attempt(session, campaign, people[3], "completed", "human", queue=("hangup", 4))  # hung up waiting
    attempt(session, campaign, people[4], "completed", "human")  # no call row: never reached the desk
    attempt(session, campaign, people[5], "completed", "machine_end_beep", queue=(None, None))
    attempt(session, campaign, people[6], "completed", "human", queue=("hangup", 30), ended=old)
    attempt(session, campaign, people[7], "busy")
    attempt(session, campaign, people[7], "no-answer")
    attempt(session, campaign, people[8], "ringing")
    attempt(session, campaign, people[9], "pending")
    session.execute(update(Contact).where(Contact.id == people[0].id).values(state="done"))
    session.execute(
        update(Contact)
        .where(Contact.id == people[9].id)
        .values(last_outcome="deferred-window", next_attempt_at=OPEN + timedelta(hours=3))
    )
    session.execute(
        update(Contact)
        .where(Contact.id == people[8].id)
        .values(last_outcome="deferred-window", next_attempt_at=OPEN - timedelta(minutes=5))
    )  # its window has opened: due, no longer waiting
    session.commit()
    found = campaign_figures(session, campaign, OPEN)
    assert (found.dialled, found.answered_human, found.answered_machine) == (10, 6, 1)
    assert (found.busy, found.no_answer, found.in_progress, found.failed) == (1, 1, 1, 0)
    assert (found.contacts, found.remaining, found.done, found.deferred_window) == (10, 9, 1, 1)
    # of the 5 human-answered calls of the last 30 days, 2 got an agent within 2 s
    assert (found.abandonment.answered, found.abandonment.abandoned) == (5, 3)
    assert found.abandonment.rate == pytest.approx(0.6)
    assert found.abandonment.over_limit is True


def test_without_a_desk_the_rate_is_not_applicable(app, session) -> None:
    campaign = new_campaign(app, session)
    load(session, campaign, "phone\n+15125550101\n")
    attempt(session, campaign, next(iter(contacts(session, campaign).values())), "completed", "human")
    found = campaign_figures(session, campaign, OPEN)
    assert found.answered_human == 1
    assert found.abandonment.as_dict()["applicable"] is False
    assert found.abandonment.rate is None


@pytest.mark.parametrize("paused", [False, True])
def test_the_last_call_settled_finishes_the_campaign(app, session, paused: bool) -> None:
    """The change that leaves no contact to call finishes the campaign; reading its figures never does."""
    campaign = new_campaign(app, session)
    load(session, campaign, "phone\n+15125550101\n+15125550102\n")
    change_state(session, campaign, "start", OPEN)
    if paused:
        change_state(session, campaign, "pause", OPEN)
    session.execute(update(Contact).values(state="done"))
    first = contacts(session, campaign)["+15125550101"]
    session.execute(update(Contact).where(Contact.id == first.id).values(state="dialling"))
    session.commit()
    last = attempt(session, campaign, first, "ringing")
    assert campaign_figures(session, campaign, OPEN).remaining == 1
    assert campaign.state == ("paused" if paused else "running")
    assert advance(session, last.id, "completed", OPEN + timedelta(minutes=1)) is True  # the contact is done
    session.commit()
    session.expire_all()
    figures_now = campaign_figures(session, campaign, OPEN)
    assert (figures_now.remaining, figures_now.progress, campaign.state) == (0, 1.0, "finished")
    assert campaign.updated_at == OPEN + timedelta(minutes=1)


def test_reading_the_figures_never_finishes_a_campaign(app, session) -> None:
    campaign = new_campaign(app, session)
    load(session, campaign, "phone\n+15125550101\n")
    change_state(session, campaign, "start", OPEN)
    session.execute(update(Contact).values(state="done"))  # behind the owner's back: nothing finishes it
    session.commit()
    assert campaign_figures(session, campaign, OPEN).remaining == 0
    session.expire_all()
    assert campaign.state == "running"


@pytest.mark.parametrize(("before", "action"), [("running", "pause"), ("paused", "resume")])
def test_pausing_or_resuming_with_nothing_left_finishes(app, session, before: str, action: str) -> None:
    campaign = new_campaign(app, session)
    load(session, campaign, "phone\n+15125550101\n")
    change_state(session, campaign, "start", OPEN)
    if before == "paused":
        change_state(session, campaign, "pause", OPEN)
    session.execute(update(Contact).values(state="done"))
    session.commit()
    assert change_state(session, campaign, action, OPEN) == "finished"
    assert campaign.state == "finished"
