"""Review fixes of the dialer: 5xx answers that hid a placed call, attempt ids never reused, recovery that
never adopts another attempt's call, the calling window checked at the slot, attempts whose final
callback was lost, and the single worker on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr import create_app
from ivr.campaigns import attempts
from ivr.config import dialer_settings
from ivr.dialer.lease import AnotherWorker, only_worker
from ivr.dialer.recovery import STALE_SECONDS, Recovered, recover
from ivr.dialer.worker import Settings
from ivr.models import Attempt, Campaign, Contact
from ivr.sim import VirtualClock

from ..conftest import OPEN
from ..dialer_harness import CALLER_ID, PUBLIC, Bench, add_reminder_flow, make_campaign, prism_url
from ..prism import Sent, Taken
from ..twilio import TwilioClient, new_sid, parse, xpath

__all__ = ["prism_url"]  # the module's Prism fixture

P, Q = "+15125550121", "+15125550122"


@pytest.fixture
def clock() -> VirtualClock:
    """The time line shared by the worker, the app and the simulated calls."""
    return VirtualClock(OPEN)


@pytest.fixture
def config(config: dict[str, Any], flows_dir: Path, clock: VirtualClock) -> dict[str, Any]:
    """The app reads the virtual clock; the flows folder has the campaign's flow."""
    add_reminder_flow(flows_dir)
    return config | {"IVR_CLOCK": clock.now}


@pytest.fixture
def bench(app: Flask, prism_url: str, clock: VirtualClock) -> Iterator[Bench]:
    """The test bench; its worker's leases are released at the end."""
    made = Bench(app, prism_url, clock)
    yield made
    made.worker.leases.close()


def _attempt(
    bench: Bench,
    phone: str,
    number: int = 1,
    requested: datetime | None = None,
    sid: str | None = None,
    status: str = "pending",
) -> int:
    """A contact being dialled (made if new, in the one campaign) with a new attempt: its id."""
    with bench.session() as s:
        campaign = s.scalars(select(Campaign)).first() or make_campaign(s, [])
        contact = s.scalars(select(Contact).where(Contact.phone == phone)).first()
        if contact is None:
            contact = Contact(campaign_id=campaign.id, phone=phone, line=2, state="pending", attempts=0)
            s.add(contact)
        contact.state, contact.attempts = "dialling", number
        s.flush()
        attempt = Attempt(
            campaign_id=campaign.id,
            contact_id=contact.id,
            number=number,
            created_at=requested or OPEN,
            requested_at=requested,
            call_sid=sid,
            status=status,
        )
        s.add(attempt)
        s.commit()
        return attempt.id


# -- 5xx: the call may exist ---------------------------------------------------------------------------


def test_a_5xx_after_twilio_created_the_call_is_not_sent_again(bench: Bench) -> None:
    bench.record.lost[P] = [(500, 20500, "Internal Server Error")]  # the call was created, then 500
    with bench.session() as s:
        make_campaign(s, [{"phone": P}])
    bench.run()
    (create,) = bench.creates(P)  # one request: Twilio's call list was asked instead of sending again
    (taken,) = bench.record.taken
    lookups = [sent for sent in bench.record.sent if sent.method == "GET"]
    assert [(sent.params["To"], sent.status) for sent in lookups] == [(P, 200)]
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status) == (taken.sid, "completed")
    assert create.body["sid"] == taken.sid
    assert bench.contact(P).state == "done"


def _looks(bench: Bench) -> list[Sent]:
    """The call-list look-ups the dialer made, in order."""
    return [sent for sent in bench.record.sent if sent.method == "GET" and sent.url.endswith("/Calls.json")]


def test_a_call_the_list_shows_only_on_the_third_look_is_not_dialled_twice(bench: Bench) -> None:
    bench.record.lost[P] = [(500, 20500, "Internal Server Error")]  # the call was created, then 500
    bench.record.unlisted[P] = 2  # Twilio's list shows it from the third look on
    bench.record.on_taken = None  # no status callback comes: only the list can tell
    with bench.session() as s:
        make_campaign(s, [{"phone": P}])
    bench.run()
    (create,) = bench.creates(P)
    looks = _looks(bench)
    assert [sent.status for sent in looks] == [200, 200, 200]
    assert [round(sent.at - create.at, 3) for sent in looks] == [0.0, 1.0, 3.0]  # at once, then 1 s, 2 s
    (taken,) = bench.record.taken
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status) == (taken.sid, "queued")
    assert (bench.contact(P).state, bench.contact(P).attempts) == ("dialling", 1)


def test_a_call_the_list_never_shows_is_sent_again_once_after_the_window(bench: Bench) -> None:
    bench.record.faults[P] = [(502, 20502, "Bad Gateway")]  # Twilio never took it
    with bench.session() as s:
        make_campaign(s, [{"phone": P}])
    bench.run()
    first, second = bench.creates(P)
    assert (first.status, second.status) == (502, 201)
    window = bench.settings.recovery_grace
    looks = [sent.at - first.at for sent in _looks(bench) if sent.at < second.at]
    assert looks == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 61.0, 91.0, window]  # then the window is over
    assert window + 1.0 <= second.at - first.at <= window + 2.0  # the retry's backoff (1-2 s) after it
    (attempt,) = bench.attempts(P)
    assert attempt.call_sid == second.body["sid"]
    assert bench.contact(P).state == "done"


def test_a_call_its_callback_links_is_not_sent_again_while_the_list_lags(bench: Bench) -> None:
    bench.record.lost[P] = [(503, 20503, "Service Unavailable")]  # created, then 503
    bench.record.unlisted[P] = 1000  # the list never catches up; the call's callbacks come
    with bench.session() as s:
        make_campaign(s, [{"phone": P}])
    bench.run()
    (create,) = bench.creates(P)
    (taken,) = bench.record.taken
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status) == (taken.sid, "completed")
    assert bench.contact(P).state == "done"
    assert len(_looks(bench)) == 2  # at once, then once more: by then the callbacks had linked it


def test_a_job_given_up_after_a_5xx_is_looked_up_before_it_is_undone(
    bench: Bench, clock: VirtualClock
) -> None:
    bench.record.faults[P] = [(503, 20503, "Service Unavailable")]
    with bench.session() as s:
        make_campaign(s, [{"phone": P}])
    bench.worker.run_once()  # 503; Twilio's list has no call: the job waits for its backoff
    bench.worker.take_back()
    (job,) = [entry[2] for entry in bench.worker.heap]
    assert job.sent is not None
    taken = Taken(new_sid(), P, CALLER_ID, clock.now(), {})  # ... and now the list shows it
    bench.record.taken.append(taken)
    bench.worker.stop.set()
    bench.worker.run()  # shutdown gives back the jobs not sent: this one is adopted instead
    (attempt,) = bench.attempts(P)
    assert (attempt.call_sid, attempt.status) == (taken.sid, "queued")
    assert (bench.contact(P).state, bench.contact(P).attempts) == ("dialling", 1)
    assert [t.status for t in bench.creates(P)] == [503]


# -- attempt ids and the To check ----------------------------------------------------------------------


def test_an_undone_attempts_id_is_never_given_to_another(bench: Bench, clock: VirtualClock) -> None:
    old = _attempt(bench, P)
    with bench.session() as s:
        assert attempts.revert(s, old, clock.now(), reason="test")
        s.commit()
    new = _attempt(bench, Q)
    assert new > old


def test_a_late_callback_naming_another_contacts_attempt_is_refused(
    bench: Bench, twilio: TwilioClient
) -> None:
    theirs = _attempt(bench, Q, requested=OPEN)
    stray = new_sid()  # a call to P whose attempt is gone, naming Q's attempt id
    params = twilio.call_params(
        stray, caller=CALLER_ID, called=P, status="completed", Direction="outbound-api",
        SequenceNumber="3", CallDuration="30",
    )  # fmt: skip
    assert twilio.post(f"/voice/status?attempt={theirs}", params).status_code == 204
    answer = twilio.call_params(stray, caller=CALLER_ID, called=P, status="in-progress")
    root = parse(twilio.post(f"/voice/outbound/{theirs}", answer | {"Direction": "outbound-api"}))
    assert xpath(root, "//Hangup") and not xpath(root, "//Gather")  # not Q's flow
    (attempt,) = bench.attempts(Q)
    assert (attempt.call_sid, attempt.status) == (None, "pending")
    assert bench.contact(Q).state == "dialling"


# -- recovery never adopts another attempt's call ------------------------------------------------------


def test_recovery_passes_over_calls_of_earlier_attempts(bench: Bench, clock: VirtualClock) -> None:
    now = clock.now()
    first = new_sid()
    _attempt(bench, P, 1, now - timedelta(seconds=200), first, "completed")
    requested = now - timedelta(seconds=140)  # 60 s after the first call: the shortest spacing
    orphan = _attempt(bench, P, 2, requested)
    bench.record.taken += [
        Taken(first, P, CALLER_ID, requested - timedelta(seconds=5), {}),  # already attempt 1's
        Taken(new_sid(), P, CALLER_ID, requested - timedelta(seconds=50), {}),  # before this request
    ]
    done = recover(bench.worker.maker, bench.worker.leases, bench.rest, now, grace=120)
    assert done == Recovered(reverted=1)
    assert [a.number for a in bench.attempts(P)] == [1]
    assert orphan not in [a.id for a in bench.attempts(P)]
    contact = bench.contact(P)
    assert (contact.state, contact.attempts) == ("pending", 1)


# -- the calling window at the slot --------------------------------------------------------------------


def test_a_window_that_closes_before_the_slot_defers_the_contact(bench: Bench, clock: VirtualClock) -> None:
    clock.moment = OPEN - timedelta(seconds=1)  # 09:59:59 in Chicago; the window ends at 10:00
    with bench.session() as s:
        make_campaign(s, [{"phone": P}], window_start="08:00", window_end="10:00")
    bench.worker.fill(clock.now())
    assert len(bench.worker.heap) == 1  # claimed while open ...
    clock.moment = OPEN + timedelta(seconds=1)  # ... its slot comes after the window closed
    bench.worker.run_once()
    assert bench.creates() == []
    assert bench.attempts(P) == []
    contact = bench.contact(P)
    assert (contact.state, contact.attempts, contact.last_outcome) == ("pending", 0, "deferred-window")
    assert contact.next_attempt_at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 08:00 in Chicago


# -- attempts whose final callback was lost ------------------------------------------------------------


def test_a_call_whose_final_callback_was_lost_is_settled_from_twilio(
    bench: Bench, clock: VirtualClock
) -> None:
    now = clock.now()
    long_ago = now - timedelta(seconds=STALE_SECONDS + 60)
    ended, going, recent = new_sid(), new_sid(), new_sid()
    _attempt(bench, P, 1, long_ago, ended, "in-progress")
    _attempt(bench, Q, 1, long_ago, going, "ringing")
    bench.record.calls[ended] = {"status": "completed", "answered_by": "human", "duration": "42"}
    bench.record.calls[going] = {"status": "in-progress", "answered_by": None, "duration": None}
    with bench.session() as s:
        make_campaign(s, [], name="other")
    r = "+15125550123"
    _attempt(bench, r, 1, now - timedelta(seconds=600), recent, "in-progress")

    done = recover(bench.worker.maker, bench.worker.leases, bench.rest, now, grace=120)

    assert done == Recovered(settled=1)
    fetched = [sent for sent in bench.record.sent if sent.method == "GET"]
    assert sorted((sent.url.rsplit("/", 1)[-1], sent.status) for sent in fetched) == sorted(
        [(f"{ended}.json", 200), (f"{going}.json", 200)]
    )  # Prism validated the fetches; the recent attempt was not looked at
    (attempt,) = bench.attempts(P)
    assert (attempt.status, attempt.duration, attempt.ended_at) == ("completed", 42, now)
    assert (bench.contact(P).state, bench.contact(P).last_outcome) == ("done", "human")
    assert bench.attempts(Q)[0].status == "ringing" and bench.contact(Q).state == "dialling"
    assert bench.attempts(r)[0].status == "in-progress"


def test_the_stale_age_is_configurable() -> None:
    base = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "PUBLIC_BASE_URL": PUBLIC}
    assert Settings.from_config(base).stale == STALE_SECONDS
    assert Settings.from_config(base | {"DIALER_STALE_SECONDS": "900"}).stale == 900.0


def test_dialer_stale_seconds_in_the_environment_reaches_the_worker(
    bench: Bench, clock: VirtualClock, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dialer_settings({})["DIALER_STALE_SECONDS"] == STALE_SECONDS
    monkeypatch.setenv("DIALER_STALE_SECONDS", "900")
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC)
    served = create_app({k: v for k, v in config.items() if k != "PUBLIC_BASE_URL"})  # as `ivr dialer run`
    served.extensions["ivr.db"].engine.dispose()
    settings = Settings.from_config(served.config)
    assert settings.stale == 900.0
    now = clock.now()
    ended = new_sid()
    _attempt(bench, P, 1, now - timedelta(seconds=1000), ended, "in-progress")  # stale after 900 s
    bench.record.calls[ended] = {"status": "completed", "answered_by": "human", "duration": "42"}
    by_default = recover(bench.worker.maker, bench.worker.leases, bench.rest, now, grace=120)
    assert by_default == Recovered() and bench.attempts(P)[0].status == "in-progress"
    done = recover(bench.worker.maker, bench.worker.leases, bench.rest, now, 120, settings.stale)
    assert done == Recovered(settled=1)
    assert (bench.attempts(P)[0].status, bench.contact(P).state) == ("completed", "done")


# -- undoing, and one worker on SQLite -----------------------------------------------------------------


def test_revert_never_deletes_an_attempt_that_was_sent(bench: Bench, clock: VirtualClock) -> None:
    sent = _attempt(bench, P, requested=clock.now())
    with bench.session() as s:
        assert not attempts.revert(s, sent, clock.now(), reason="read before it was sent")
        s.commit()
    assert [a.id for a in bench.attempts(P)] == [sent]
    assert bench.contact(P).state == "dialling"


def test_a_second_worker_on_one_sqlite_database_is_refused(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    with only_worker(engine):
        second = only_worker(engine)
        with pytest.raises(AnotherWorker, match="another dialer worker"):
            second.__enter__()
    with only_worker(engine):  # free again once the first one stopped
        assert (tmp_path / "ivr.sqlite3.dialer.lock").exists()
    engine.dispose()
