"""CPU of the web layer of a webhook: the hooks, the body and signature checks, the TwiML, in-process.

Posts signed webhook requests through Flask's test client to an app on SQLite in a temporary folder (the
sample flows, the desks open): calls of four requests each (incoming, the language menu, the main menu to the
support queue, a final status callback). It prints the CPU per request of the whole WSGI call and of each part
of the web layer, timed by wrappers around them (each adds well under a microsecond), and with --profile the
functions that cost most under cProfile (which slows everything about twice).

    .venv/bin/python benchmarks/voice_layer.py [--requests 2000] [--profile] [--json]

What it does not measure: the database (SQLite here, not PostgreSQL), a WSGI server and its connection.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from lxml import etree
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-token-0123456789abcdef"
OPEN = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Chicago: the sample desks are open
BASE = "https://ivr.test"
spent: dict[str, int] = defaultdict(int)


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.thread_time_ns() - started

    return timed


def _instrument(app: Any) -> None:
    """Timers around the parts of the web layer (looked up by name: a part missing is left out)."""
    import flask.ctx

    from ivr.voice import responses, security

    app_class = type(app)
    for owner, name, label in (
        (app_class, "wsgi_app", "whole request (Flask's wsgi_app)"),
        (app_class, "preprocess_request", "before-request hooks, all"),
        (app_class, "process_response", "after-request hooks and session save"),
        (flask.ctx.RequestContext, "push", "request context push (session open included)"),
        (flask.ctx.RequestContext, "pop", "request context pop (teardown: database session close)"),
        (responses, "render", "TwiML: render (callback URLs included)"),
        (responses, "absolute", "TwiML: callback URLs"),
        (security, "signed_url", "signature: the signed URL"),
        (type(app.session_interface), "open_session", "session: open"),
        (type(app.session_interface), "save_session", "session: save"),
    ):
        if hasattr(owner, name):
            setattr(owner, name, _timed(label, getattr(owner, name)))
    for registry, kind in ((app.before_request_funcs, "before"), (app.after_request_funcs, "after")):
        for blueprint, functions in registry.items():
            functions[:] = [_timed(f"{kind} {blueprint or 'app'}: {f.__name__}", f) for f in functions]
    import ivr.voice as voice

    for name in ("read_form", "check_body", "check_signature", "check_identifiers", "simulated_time"):
        if hasattr(voice, name):
            setattr(voice, name, _timed(f"voice check: {name}", getattr(voice, name)))


def _app(folder: Path) -> Any:
    from ivr import create_app
    from ivr.migrations.runner import recreate

    shutil.copytree(ROOT / "flows", folder / "flows")
    url = f"sqlite:///{folder / 'ivr.sqlite3'}"
    recreate(url)
    return create_app(
        {
            "DATABASE_URL": url,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_ACCOUNT_SID": "",
            "PUBLIC_BASE_URL": "",
            "FLOWS_DIR": str(folder / "flows"),
            "FLOWS_CHECK_SECONDS": 0,
            "FLOWS_WATCH": True,
            "SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
            "SERVER_NAME": "ivr.test",
            "PREFERRED_URL_SCHEME": "https",
            "IVR_CLOCK": lambda: OPEN,
            "JOURNAL_PATH": str(folder / "journal.jsonl"),
            "LOG_LEVEL": "WARNING",
        }
    )


def main() -> None:
    """Run the calls and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="also the top functions under cProfile")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ivr-voice-layer-"))
    try:
        app = _app(folder)
        client = app.test_client()
        validator = RequestValidator(TOKEN)
        sids = count(1)

        def post(url: str, params: dict[str, str]) -> bytes:
            full = url if url.startswith("http") else BASE + url
            signature = validator.compute_signature(full, params)
            response = client.post(full, data=params, headers={"X-Twilio-Signature": signature})
            assert response.status_code in (200, 204), response.data[:200]
            return response.data

        def params(sid: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
            return {
                "CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+15125550199", "To": "+15125550100",
                "CallStatus": status, "ApiVersion": "2010-04-01", "Direction": "inbound",
                "Caller": "+15125550199", "Called": "+15125550100",
            } | extra  # fmt: skip

        def one_call() -> int:
            sid = f"CA{next(sids):032x}"
            root = etree.fromstring(post("/voice/incoming", params(sid, "ringing")))
            root = etree.fromstring(post(root.xpath("//Gather/@action")[0], params(sid, Digits="1")))
            post(root.xpath("//Gather/@action")[0], params(sid, Digits="2"))
            post("/voice/status", params(sid, "completed", SequenceNumber="3", CallDuration="30"))
            return 4

        for _ in range(25):
            one_call()
        done, started = 0, time.process_time()
        while done < args.requests:
            done += one_call()
        plain = (time.process_time() - started) / done * 1e6
        _instrument(app)
        spent.clear()
        timed = 0
        while timed < args.requests:
            timed += one_call()
        figures = {label: ns / timed / 1000 for label, ns in sorted(spent.items(), key=lambda kv: -kv[1])}
        report = {
            "machine": f"{platform.node()} {platform.machine()} Python {platform.python_version()}",
            "requests": done,
            "cpu_us_per_request_client_included": round(plain, 1),
            "parts_us_per_request": {label: round(value, 1) for label, value in figures.items()},
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(
                f"{report['machine']}: {done} requests, {plain:.0f} us of CPU each (the test client included)"
            )
            for label, value in figures.items():
                print(f"  {label:58s} {value:8.1f} us")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests // 4):
                one_call()
            profile.disable()
            pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
