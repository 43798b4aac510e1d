"""Schemathesis fuzzes every operation of ivr/api/openapi.json through the app in-process (WSGI), on each
test database: whatever it sends, valid or not, the answer is never a 5xx and always matches the document.
The database holds a campaign, a call, a do-not-call entry and the sample flows, and path parameters are
drawn from those too, so requests reach past the 404s. Derandomized: the same requests on every run."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ivr.accounts.tokens import create_token
from ivr.campaigns import dnc

from ..campaign_helpers import new_campaign
from ..conftest import OPEN
from ..openapi import DOCUMENT, METHODS
from ..twilio import CallDriver

# per operation and token: valid requests on the data, any valid ones, invalid ones (IVR_FUZZ_EXAMPLES)
EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "15"))
OPERATIONS = [(m.upper(), path) for path, item in DOCUMENT["paths"].items() for m in item if m in METHODS]
CHECKS = [not_a_server_error, response_schema_conformance]
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)  # requests go to each test's app: case.call(app=...)
LISTED = "+15125550100"
# the tokens each operation is fuzzed with: an admin may do everything; a partner (the bpo desk) reads, scoped
ROLES = {"admin": {"role": "admin"}, "partner": {"desk": "bpo"}}


def fuzz(app: Flask, method: str, path: str, headers: dict[str, str], known: dict[str, list[str]]) -> None:
    """Send EXAMPLES generated requests to one operation, each checked."""
    operation = SCHEMA[path][method]
    names = [p["name"] for p in DOCUMENT["paths"][path].get("parameters", [])] + [
        p["name"] for p in DOCUMENT["paths"][path][method.lower()].get("parameters", []) if p["in"] == "path"
    ]
    on_data = [
        operation.as_strategy(path_parameters={name: known[name][i % len(known[name])] for name in names})
        for i in range(max((len(known[name]) for name in names), default=0))
    ]
    cases = st.one_of(
        *on_data,
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def send(case: Any) -> None:
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)

    send()


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [(role, m, path) for role in ROLES for m, path in OPERATIONS if role == "admin" or m == "GET"],
)  # a partner token only reads: its writes are 403 before any input is read (tests/web/test_roles.py)
def test_no_operation_answers_a_server_error(app, session, twilio, role, method, path) -> None:
    campaign = new_campaign(app, session)
    dnc.block_many(session, [LISTED], now=OPEN)
    token = create_token(session, "fuzz", **ROLES[role])
    session.commit()
    call = CallDriver(twilio)
    call.start()
    known = {
        "ref": [str(campaign.id), campaign.name], "action": ["start", "pause", "resume", "cancel"],
        "document": ["main.json", "site.json"], "phone": [LISTED], "call_sid": [call.sid],
    }  # fmt: skip
    fuzz(app, method, path, {"Authorization": f"Bearer {token}"}, known)
