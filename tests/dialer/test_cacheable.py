"""A campaign dialled end to end (the worker, Prism as Twilio's REST API, the simulator answering) runs only
statements SQLAlchemy can cache: the dial budget's first row, the do-not-call check,
claims, leases and attempts, on each test database."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import delete

from ivr.campaigns import dnc
from ivr.models import DialBudget

from ..cacheable import recording
from ..conftest import OPEN
from ..dialer_harness import Bench, make_campaign, prism_url
from .test_dialer import ANN, BOB, CAT, bench, clock, config, fates_of, presses

__all__ = ["bench", "clock", "config", "prism_url"]  # the fixtures of test_dialer


def test_a_campaign_dial_runs_cacheable_statements(app: Flask, bench: Bench) -> None:
    bench.carrier.fates = fates_of({ANN: [presses("1")], BOB: [presses("1")], CAT: [presses("1")]})
    with bench.session() as s:
        s.execute(delete(DialBudget))  # the budget's row is made by the first dial
        dnc.block(s, CAT, now=OPEN)
        s.commit()
        make_campaign(s, [{"phone": ANN}, {"phone": BOB}, {"phone": CAT}])
    with recording(bench.engine) as run:
        bench.run()
    assert len(bench.creates()) == 2  # CAT is on the do-not-call list
    assert run.ran("INSERT INTO DIAL_BUDGET"), "the budget's row was not made"
    assert run.ran("FROM DO_NOT_CALL"), "the do-not-call list was not checked"
    assert run.uncacheable() == []
