"""Settings from environment variables, with defaults for the embedded (SQLite) setup."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .db import Limits

DEFAULT_FLOWS_DIR = Path(__file__).resolve().parent.parent / "flows"
MIN_SECRET_KEY_BYTES = 32  # a serving app refuses a shorter SECRET_KEY (docs/operations.md)


def instance_secret(instance_path: str, name: str) -> str:
    """A random secret kept in the instance folder, created on first use (for local runs only).

    Written to a private temporary file and linked into place, so a racing process sees either no file or
    the whole secret, never an empty one.
    """
    path = Path(instance_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or not path.read_text().strip():
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")  # created with mode 0600
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            if path.exists():  # an empty file left by a crash: replace it
                os.replace(temporary, path)
            else:
                os.link(temporary, path)
        except FileExistsError:
            pass  # another process linked its secret first: use that one
        finally:
            Path(temporary).unlink(missing_ok=True)
    return path.read_text().strip()


def short_secret_key(key: str | bytes) -> str | None:
    """Why `key` is too short to serve with, or None when it is long enough."""
    size = len(key.encode() if isinstance(key, str) else key)
    if size >= MIN_SECRET_KEY_BYTES:
        return None
    return (
        f"SECRET_KEY has {size} bytes: use at least {MIN_SECRET_KEY_BYTES} random ones, e.g. "
        "`python -c 'import secrets; print(secrets.token_hex(32))'` (the same value on every process)."
    )


def browser_settings() -> dict[str, Any]:
    """Cookies, forms and sign-ins of the pages (docs/operations.md, "Browser security", "Sign-ins and
    webhooks")."""
    return {
        # a form's CSRF token is valid as long as the session it belongs to (not Flask-WTF's one hour)
        "WTF_CSRF_TIME_LIMIT": None,
        # cookies go with requests started on this site and top-level links to it, never with
        # cross-site posts or frames
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # password checks running at once on a host; a sign-in beyond them is answered 429 at once
        "SIGN_IN_SLOTS": int(os.environ.get("SIGN_IN_SLOTS", "1")),
        # where the slots' lock files are: shared by the workers of one site on a host (default: the instance
        # folder)
        "SIGN_IN_LOCK_DIR": os.environ.get("SIGN_IN_LOCK_DIR", ""),
    }


def from_environment(instance_path: str) -> dict[str, Any]:
    """The app's configuration, read from the environment."""
    env = os.environ
    return {
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'ivr.sqlite3'}",
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "0")),
        # How long the database may take (docs/operations.md, "A deadline on every webhook"). A webhook's
        # database work ends after WEBHOOK_DEADLINE_SECONDS whatever the database does (then it answers the
        # fallback); its statements and lock waits are cut shorter still. Pages and the API, then commands
        # (rollups, imports, the dialer), get longer statement timeouts (0: none); migrations have none.
        "WEBHOOK_DEADLINE_SECONDS": float(env.get("WEBHOOK_DEADLINE_SECONDS", "2.5")),
        "WEBHOOK_LOCK_TIMEOUT_SECONDS": float(env.get("WEBHOOK_LOCK_TIMEOUT_SECONDS", "1")),
        # after the database failed a webhook, that worker's webhooks answer without it for this long, then
        # one probes it (a hung database costs one wait per interval, not one per request)
        "WEBHOOK_DATABASE_RETRY_SECONDS": float(env.get("WEBHOOK_DATABASE_RETRY_SECONDS", "1")),
        "DB_CONNECT_TIMEOUT_SECONDS": int(env.get("DB_CONNECT_TIMEOUT_SECONDS", "2")),
        "DB_STATEMENT_TIMEOUT_SECONDS": float(env.get("DB_STATEMENT_TIMEOUT_SECONDS", "30")),
        "DB_LOCK_TIMEOUT_SECONDS": float(env.get("DB_LOCK_TIMEOUT_SECONDS", "10")),
        "CLI_STATEMENT_TIMEOUT_SECONDS": float(env.get("CLI_STATEMENT_TIMEOUT_SECONDS", "600")),
        "FLOWS_DIR": env.get("FLOWS_DIR") or str(DEFAULT_FLOWS_DIR),
        "FLOWS_CHECK_SECONDS": float(env.get("FLOWS_CHECK_SECONDS", "2")),
        # publish the flows folder whenever it changes (`ivr serve`, the tests); production reads the database
        "FLOWS_WATCH": env.get("FLOWS_WATCH", "0") == "1",
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_REQUEST_BYTES", str(64 * 1024))),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # log lines show caller numbers, typed digits and transcriptions (debugging only; docs/operations.md)
        "LOG_CALLER_NUMBERS": env.get("LOG_CALLER_NUMBERS", "0") == "1",
        # webhooks answered without the database, kept for replay (docs/call-log.md, "Nothing lost");
        # an empty path means journal.jsonl in the instance folder
        "JOURNAL_PATH": env.get("JOURNAL_PATH", ""),
        "JOURNAL_MAX_BYTES": int(env.get("JOURNAL_MAX_BYTES", str(64 * 1024 * 1024))),
        "JOURNAL_REPLAY_SECONDS": float(env.get("JOURNAL_REPLAY_SECONDS", "10")),
        "JOURNAL_CHECK_SECONDS": float(env.get("JOURNAL_CHECK_SECONDS", "1")),
        # `ivr simulate --at` over --url: trust a signed IvrSimulatedTime on webhooks (local try-outs only)
        "SIMULATED_TIME": env.get("IVR_SIMULATED_TIME", "0") == "1",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "0") == "1",
        # the API's incremental sync serves changes older than this (docs/api.md, "Incremental sync")
        "SYNC_SETTLE_SECONDS": float(env.get("SYNC_SETTLE_SECONDS", "60")),
        **dialer_settings(env),
    }


# -- the dialer worker (ivr/dialer; docs/dialer.md, "Settings") -------------------------------------------


def dialer_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The dialer's settings: where Twilio's REST API is, how fast and in what steps to call, how long to
    wait for Twilio before asking it again."""
    return {
        "TWILIO_API_BASE_URL": (env.get("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/"),
        "DIALER_CPS": float(env.get("DIALER_CPS", "1")),
        "DIALER_BATCH": int(env.get("DIALER_BATCH", "20")),
        "DIALER_POLL_SECONDS": float(env.get("DIALER_POLL_SECONDS", "1")),
        "DIALER_THREADS": int(env.get("DIALER_THREADS", "8")),
        # after a 5xx, and for requests of a dead worker: how long Twilio's call list is watched for the call
        "DIALER_RECOVERY_SECONDS": float(env.get("DIALER_RECOVERY_SECONDS", "120")),
        # an attempt with a CallSid but no final status this long after its request is read from Twilio
        "DIALER_STALE_SECONDS": float(env.get("DIALER_STALE_SECONDS", "14460")),
    }


def database_limits(config: Mapping[str, Any], serves_webhooks: bool) -> tuple[Limits, Limits | None]:
    """The limits a process's connections open with, and those of its uses outside webhooks (or None).

    A web process opens them with the webhooks' limits (no round trip on the hot path) and gives pages and
    the API longer ones; a command's connections keep the commands' limits.
    """
    connect = int(config["DB_CONNECT_TIMEOUT_SECONDS"])
    lock = float(config["DB_LOCK_TIMEOUT_SECONDS"])
    if not serves_webhooks:
        return Limits(connect, float(config["CLI_STATEMENT_TIMEOUT_SECONDS"]), lock), None
    webhooks = Limits(
        connect, float(config["WEBHOOK_DEADLINE_SECONDS"]), float(config["WEBHOOK_LOCK_TIMEOUT_SECONDS"])
    )
    return webhooks, Limits(connect, float(config["DB_STATEMENT_TIMEOUT_SECONDS"]), lock)
