"""Hypothesis fuzzes the webhooks with signed requests, on each test database: any form fields, values
(unicode, numbers, huge), on every /voice/ route, to calls that exist or not. Each answer is valid TwiML
(text/xml, <Response> at the root), an empty 2xx (status callbacks), or a 4xx; never a 5xx, and nothing
inside fails (no error logged: a step that fails answers the fallback, which would hide the fault)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from ivr.engine.nodes import NODE_TYPES

from ..conftest import SAMPLE_FLOWS
from ..twilio import CallDriver, TwilioClient, new_sid

EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "300"))  # more to hunt locally: IVR_FUZZ_EXAMPLES=5000
CALLS = [new_sid() for _ in range(3)]  # started before the fuzz: steps for them run the flow
NODES = json.loads((SAMPLE_FLOWS / "main.json").read_text("utf-8"))["nodes"]
EVENTS = ("input", "wait", "result")
# the steps the app's TwiML can name: a node of the sample flow and an event its type takes
STEPS = [
    f"/voice/step/main/{name}/{event}"
    for name, node in NODES.items()
    for event in EVENTS
    if hasattr(NODE_TYPES[node["type"]], f"on_{event}")
]
# steps no TwiML names (a node that takes no such event, or none such): their fallback is fine, not a 500
ODD_STEPS = [
    "/voice/step/main/greeting/input",
    "/voice/step/main/nowhere/wait",
    "/voice/step/nope/queue/wait",
]
ROUTES = [
    "/voice/incoming", "/voice/status", "/voice/fallback", "/voice/transcription", "/voice/agent/id",
    "/voice/agent/pin", "/voice/agent/whisper", "/voice/agent/dialed", "/voice/agent/key",
    "/voice/outbound/1", *STEPS,
]  # fmt: skip
# the fields Twilio sends to voice webhooks (tests/twilio.py, ../shared/REFERENCE.md), and any others
FIELDS = [
    "CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "Digits", "SpeechResult", "Confidence",
    "QueueResult", "QueueTime", "QueueSid", "DialCallStatus", "DialCallDuration", "DialCallSid",
    "CallDuration", "Duration", "SequenceNumber", "Timestamp", "RecordingUrl", "RecordingDuration",
    "RecordingSid", "TranscriptionText", "TranscriptionStatus", "AnsweredBy", "ErrorCode", "ErrorUrl",
    "ParentCallSid", "ForwardedFrom", "CallerName", "Caller", "Called", "DequeingCallSid", "CallbackSource",
]  # fmt: skip
SAMPLES = [
    "", " ", "0", "-1", "1#", "*", "completed", "in-progress", "busy", "bridged", "human", "machine_start",
    "outbound-api", "https://api.twilio.com/rec", "javascript:alert(1)", "+15125550100",
    "2026-11-24T16:00:00Z", "Tue, 24 Nov 2026 16:00:00 +0000", "\x00", "１２", "²",
]  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
VALUES = st.one_of(
    TEXT,
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(SAMPLES),
    st.integers(1, 70_000).map(lambda n: "9" * n),  # huge, past the 64 KiB body limit at the top
)  # fmt: skip
FORMS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT.filter(bool)), VALUES, max_size=8)
SIDS = st.one_of(st.sampled_from(CALLS), st.just(None), VALUES)


class Errors(logging.Handler):
    """Error records logged by ivr while a request is answered."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    logger = logging.getLogger("ivr")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def check(response, path: str, errors: Errors, odd: bool = False) -> None:
    """Valid TwiML, an empty 2xx or a 4xx; no error logged inside (unless the URL is `odd`)."""
    logged = [f"{r.getMessage()}\n{r.exc_text or ''}" for r in errors.records]
    errors.records.clear()
    assert odd or not logged, f"{path}: " + "\n".join(logged)
    status = response.status_code
    assert status < 500, f"{path}: {status} {response.get_data(as_text=True)[:300]}"
    if status >= 400 or status == 204 or not response.get_data():
        return
    assert response.mimetype == "text/xml", (path, response.mimetype)
    assert etree.fromstring(response.get_data()).tag == "Response"


def test_signed_requests_of_any_shape_never_fail(twilio: TwilioClient, errors: Errors) -> None:
    for sid in CALLS:
        CallDriver(twilio, sid).start()

    @given(
        path=st.sampled_from(ROUTES + ODD_STEPS), base=st.booleans(), sid=SIDS, form=FORMS,
        query=st.dictionaries(st.sampled_from(["attempt"]), VALUES, max_size=1),
    )  # fmt: skip
    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def send(path: str, query: dict[str, str], base: bool, sid: str | None, form: dict[str, str]) -> None:
        params = (twilio.call_params(sid or "", status="in-progress") if base else {}) | form
        if sid is None:
            params.pop("CallSid", None)
        elif "CallSid" not in form:
            params["CallSid"] = sid
        url = path + ("?" + urlencode(query) if query else "")
        check(twilio.post(url, params), url, errors, odd=path in ODD_STEPS)

    send()
