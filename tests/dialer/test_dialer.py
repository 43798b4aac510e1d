"""The dialer end to end: campaigns dialled through Prism (Twilio's REST API mock) on a virtual clock, the
simulator answering the calls and sending the status callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.campaigns import dnc
from ivr.dialer.worker import MAX_TRIES, RETRY_LATER
from ivr.metrics.definitions import MetricSettings
from ivr.metrics.rollup import aggregate
from ivr.models import Call, CallEvent, Campaign
from ivr.sim import Caller, Input, VirtualClock
from ivr.sim.outbound import Callee

from ..conftest import OPEN
from ..dialer_harness import CALLER_ID, EVENTS, PUBLIC, Bench, add_reminder_flow, make_campaign, prism_url

__all__ = ["prism_url"]  # the module's Prism fixture

ANN, BOB, CAT, DAN = "+15125550101", "+15125550102", "+15125550103", "+15125550104"


@pytest.fixture
def clock() -> VirtualClock:
    """The time line shared by the worker, the app and the simulated calls."""
    return VirtualClock(OPEN)


@pytest.fixture
def config(config: dict[str, Any], flows_dir: Path, clock: VirtualClock) -> dict[str, Any]:
    """The app reads the virtual clock; the flows folder has the campaign's flow."""
    add_reminder_flow(flows_dir)
    return config | {"IVR_CLOCK": clock.now}


def presses(digits: str) -> Callee:
    """A person who answers and presses `digits` at the first prompt."""
    return Callee("human", Caller.scripted([Input(digits=digits)]))


def fates_of(table: dict[str, list[Callee]]) -> Any:
    """Who answers the n-th call to each number (the last entry from then on)."""

    def fate(number: str, n: int) -> Callee:
        seq = table[number]
        return seq[min(n, len(seq)) - 1]

    return fate


@pytest.fixture
def bench(app: Flask, prism_url: str, clock: VirtualClock) -> Iterator[Bench]:
    """The test bench; its worker's leases are released at the end."""
    made = Bench(app, prism_url, clock)
    yield made
    made.worker.leases.close()


def test_a_campaign_runs_end_to_end(app: Flask, bench: Bench, clock: VirtualClock) -> None:
    bench.carrier.fates = fates_of(
        {
            ANN: [presses("1")],
            BOB: [Callee("machine")],
            CAT: [Callee("busy"), presses("2")],
            DAN: [Callee("no-answer")],
        }
    )
    with bench.session() as s:
        campaign = make_campaign(
            s,
            [
                {"phone": ANN, "name": "Ann", "variables": {"appointment": "Tuesday 3 pm"}},
                {"phone": BOB, "name": "Bob"},
                {"phone": CAT, "name": "Cat"},
                {"phone": DAN, "name": "Dan"},
            ],
            machine_detection="message",
            machine_message="This is Acme: please call us back about your appointment.",
        )
    bench.run()

    creates = bench.creates()
    assert [c.status for c in creates] == [201] * len(creates)  # Prism validated every request
    assert len(creates) == 1 + 1 + 2 + 3
    for sent in creates:
        attempt = next(a for a in bench.attempts(str(sent.params["To"])) if a.call_sid == sent.body["sid"])
        assert sent.params["From"] == CALLER_ID
        assert sent.params["Url"] == f"{PUBLIC}/voice/outbound/{attempt.id}"
        assert sent.params["StatusCallback"] == f"{PUBLIC}/voice/status?attempt={attempt.id}"
        assert sent.params["StatusCallbackEvent"] == EVENTS
        assert sent.params["MachineDetection"] == "DetectMessageEnd"

    outcomes = {
        p: (bench.contact(p).state, bench.contact(p).last_outcome, bench.contact(p).attempts)
        for p in (ANN, BOB, CAT, DAN)
    }
    assert outcomes == {
        ANN: ("done", "human", 1),
        BOB: ("done", "machine", 1),
        CAT: ("done", "human", 2),
        DAN: ("failed", "no-answer", 3),
    }
    busy, answered = bench.attempts(CAT)
    assert (busy.status, answered.status, answered.answered_by) == ("busy", "completed", "human")
    assert busy.ended_at is not None and answered.created_at - busy.ended_at >= timedelta(seconds=600)
    dan = bench.attempts(DAN)
    assert [a.status for a in dan] == ["no-answer"] * 3
    for before, after in zip(dan, dan[1:], strict=False):
        assert before.ended_at is not None and after.created_at - before.ended_at >= timedelta(seconds=1800)

    with bench.session() as s:
        calls = {c.to_number: c for c in s.scalars(select(Call).where(Call.to_number == ANN))}
        assert s.get_one(Campaign, campaign.id).state == "finished"
        rows = list(s.scalars(select(Call)))
        assert {c.direction for c in rows} == {"outbound-api"}
        assert len(rows) == len(creates)
        ann = calls[ANN]
        assert (ann.from_number, ann.status, ann.flow) == (CALLER_ID, "completed", "reminder")
        assert ann.variables["appointment"] == "Tuesday 3 pm" and ann.variables["name"] == "Ann"
        assert ann.variables["confirmed"] == "yes"
        cat = s.scalars(select(Call).where(Call.call_sid == answered.call_sid)).one()
        assert (cat.desk, cat.queue_result, cat.role) == ("local", "bridged", "callee")
        sums = aggregate(s, ("local",), None, None, MetricSettings())[1].buckets["local"].values()
        assert (sum(b.offered for b in sums), sum(b.answered for b in sums)) == (
            1,
            1,
        )  # in the desk's metrics
        bob = bench.attempts(BOB)[0]
        kinds = s.execute(
            select(CallEvent.kind, CallEvent.data).join(Call).where(Call.call_sid == bob.call_sid)
        ).all()
        assert ("machine_detected", {"answered_by": "machine_end_beep", "action": "message"}) in [
            tuple(k) for k in kinds
        ]
    said = [e.what for e in bench.carrier.results[str(bob.call_sid)].events]
    assert "says: This is Acme: please call us back about your appointment." in said


def test_a_machine_is_hung_up_on_and_called_again(bench: Bench) -> None:
    bench.carrier.fates = fates_of({ANN: [Callee("machine"), presses("1")]})
    with bench.session() as s:
        make_campaign(s, [{"phone": ANN}], machine_detection="hangup")
    bench.run()
    first, second = bench.attempts(ANN)
    assert [c.params["MachineDetection"] for c in bench.creates()] == ["Enable", "Enable"]
    assert (first.answered_by, first.status, second.answered_by) == ("machine_start", "completed", "human")
    assert first.ended_at is not None and second.created_at - first.ended_at >= timedelta(seconds=3600)
    contact = bench.contact(ANN)
    assert (contact.state, contact.last_outcome) == ("done", "human")
    said = [e.what for e in bench.carrier.results[str(first.call_sid)].events]
    assert not [line for line in said if line.startswith("says:")]  # hung up at once


def test_429_and_5xx_are_retried_with_growing_backoff(bench: Bench) -> None:
    bench.record.faults[ANN] = [(429, 20429, "Too Many Requests"), (503, 20503, "Service Unavailable")]
    with bench.session() as s:
        make_campaign(s, [{"phone": ANN}])
    bench.run()
    tries = bench.creates(ANN)
    assert [t.status for t in tries] == [429, 503, 201]
    first, second = tries[1].at - tries[0].at, tries[2].at - tries[1].at
    window = bench.settings.recovery_grace  # after the 503 Twilio's list is watched that long
    assert 0.5 <= first <= 1.1 and window + 1.0 <= second <= window + 2.1  # backoff 1 s, 2 s (half jitter)
    (attempt,) = bench.attempts(ANN)
    assert attempt.call_sid == tries[2].body["sid"] and attempt.status == "completed"
    assert bench.contact(ANN).state == "done"


def test_a_4xx_fails_the_attempt_with_twilios_error(bench: Bench) -> None:
    message = f"The 'To' number {ANN} is not a valid phone number."
    bench.record.faults[ANN] = [(400, 21211, message)]
    with bench.session() as s:
        campaign = make_campaign(s, [{"phone": ANN}])
    bench.run()
    assert [t.status for t in bench.creates()] == [400]
    (attempt,) = bench.attempts(ANN)
    assert (attempt.status, attempt.error_code, attempt.error_message, attempt.call_sid) == (
        "failed",
        21211,
        message,
        None,
    )
    contact = bench.contact(ANN)
    assert (contact.state, contact.last_outcome, contact.last_error) == (
        "failed",
        "error",
        f"21211: {message}",
    )
    with bench.session() as s:
        assert s.get_one(Campaign, campaign.id).state == "finished"


def test_a_request_refused_too_often_is_given_back(bench: Bench, clock: VirtualClock) -> None:
    bench.record.faults[ANN] = [(503, 20503, "Service Unavailable")] * MAX_TRIES
    with bench.session() as s:
        make_campaign(s, [{"phone": ANN}])
    bench.worker.run_once()
    for _ in range(500):  # each 503 is looked for in Twilio's list (about 10 looks) before the next
        bench.worker.take_back()  # jobs a sender gave back, to look again or to send again
        if not bench.worker.heap:
            break
        clock.moment = max(clock.now(), bench.worker.heap[0][0])
        bench.worker.run_once()
    assert [t.status for t in bench.creates()] == [503] * MAX_TRIES
    assert bench.attempts(ANN) == []  # Twilio never took it: no attempt counts
    contact = bench.contact(ANN)
    assert (contact.state, contact.attempts) == ("pending", 0)
    assert contact.last_error is not None and "503" in contact.last_error
    assert contact.next_attempt_at is not None
    assert contact.next_attempt_at - clock.now() == timedelta(seconds=RETRY_LATER)
    bench.run()  # Twilio is back later
    assert bench.contact(ANN).state == "done"
    assert bench.creates()[-1].status == 201


def test_do_not_call_is_checked_at_dial_time(bench: Bench, clock: VirtualClock) -> None:
    with bench.session() as s:
        dnc.block(s, BOB, now=clock.now())
        s.commit()
        make_campaign(s, [{"phone": ANN}, {"phone": BOB}, {"phone": CAT}])
    bench.worker.fill(clock.now())  # ANN and CAT are claimed ...
    with bench.session() as s:
        # ... and CAT opts out before the call
        dnc.block(s, CAT, "opt-out", "told us on another call", now=clock.now())
        s.commit()
    bench.run()
    assert [c.params["To"] for c in bench.creates()] == [ANN]
    assert (bench.contact(BOB).state, bench.contact(BOB).last_outcome) == ("skipped", "do-not-call")
    cat = bench.contact(CAT)
    assert (cat.state, cat.last_outcome, cat.attempts) == ("skipped", "do-not-call", 0)
    assert bench.attempts(CAT) == []


def test_max_concurrent_holds_and_campaign_pace(bench: Bench) -> None:
    phones = [f"+1512555020{i}" for i in range(5)]
    with bench.session() as s:
        make_campaign(s, [{"phone": p} for p in phones], max_concurrent=2, max_cps=2.0)
    most = 0
    for _ in range(100):
        while bench.worker.run_once():
            with bench.session() as s:
                dialling = s.scalar(select(Campaign.id).where(Campaign.state == "running"))
                from ivr.dialer.claim import dialling as count

                most = max(most, count(s, dialling) if dialling else 0)
        if not bench.carrier.run_pending():
            break
    assert most == 2
    assert {c.params["To"] for c in bench.creates()} == set(phones)
    times = [c.at for c in bench.creates()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.01 / 2 - 1e-6  # the campaign's 2 calls per second, 1% margin


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LONDON, NEW_YORK, LOS_ANGELES, IDAHO = "+442079460000", "+12125550100", "+13105550100", "+12085550100"


def test_calling_windows_across_time_zones_on_a_daylight_saving_day(
    bench: Bench, clock: VirtualClock
) -> None:
    clock.moment = _utc("2026-03-08T09:30:00")  # US clocks spring forward at 02:00 local today
    with bench.session() as s:
        make_campaign(
            s,
            [
                {"phone": LONDON, "timezone": "Europe/London"},  # 09:30 there: open
                {"phone": NEW_YORK, "timezone": None},  # 212: New York, from the number; 05:30 there
                {"phone": LOS_ANGELES, "timezone": "America/Los_Angeles"},  # 01:30 PST there
                {"phone": IDAHO, "timezone": None},  # 208: Boise and Los Angeles: both must be open
            ],
        )
    bench.worker.run_once()
    assert [c.params["To"] for c in bench.creates()] == [LONDON]
    deferred = {
        p: (bench.contact(p).next_attempt_at, bench.contact(p).last_outcome)
        for p in (NEW_YORK, LOS_ANGELES, IDAHO)
    }
    assert deferred == {
        NEW_YORK: (_utc("2026-03-08T12:00:00"), "deferred-window"),  # 08:00 EDT
        LOS_ANGELES: (_utc("2026-03-08T15:00:00"), "deferred-window"),  # 08:00 PDT, not PST's 16:00
        IDAHO: (_utc("2026-03-08T15:00:00"), "deferred-window"),  # when Los Angeles opens too
    }
    bench.run(until=_utc("2026-03-08T14:59:00"))
    assert [c.params["To"] for c in bench.creates()] == [LONDON, NEW_YORK]
    assert bench.creates()[1].at >= _utc("2026-03-08T12:00:00").timestamp()
    bench.run()
    assert sorted(c.params["To"] for c in bench.creates()[2:]) == sorted([LOS_ANGELES, IDAHO])
    assert min(c.at for c in bench.creates()[2:]) >= _utc("2026-03-08T15:00:00").timestamp()


def test_calling_window_when_clocks_fall_back(bench: Bench, clock: VirtualClock) -> None:
    clock.moment = _utc("2026-11-01T04:30:00")  # 21:30 PDT on Saturday: the window has closed
    with bench.session() as s:
        make_campaign(s, [{"phone": LOS_ANGELES, "timezone": "America/Los_Angeles"}])
    bench.worker.run_once()
    assert bench.creates() == []
    assert bench.contact(LOS_ANGELES).next_attempt_at == _utc(
        "2026-11-01T16:00:00"
    )  # 08:00 PST, after the change
    bench.run()
    assert bench.creates()[0].at >= _utc("2026-11-01T16:00:00").timestamp()
    assert bench.contact(LOS_ANGELES).state == "done"


def test_stopping_gives_back_what_was_not_sent(bench: Bench, clock: VirtualClock) -> None:
    with bench.session() as s:
        make_campaign(s, [{"phone": ANN}, {"phone": BOB}])
    bench.worker.fill(clock.now())
    assert len(bench.worker.heap) == 2
    bench.worker.stop.set()
    bench.worker.run()  # stops at once: finishes nothing in flight, gives the claimed contacts back
    assert bench.creates() == []
    for phone in (ANN, BOB):
        contact = bench.contact(phone)
        assert (contact.state, contact.attempts, contact.next_attempt_at) == ("pending", 0, None)
        assert bench.attempts(phone) == []
