"""ivr: a self-hosted Twilio IVR and call-routing service with an honest call log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the web stack is imported by create_app, so `import ivr.engine` stays free of it
    from flask import Flask, Response
    from werkzeug.exceptions import HTTPException


def create_app(config: dict[str, Any] | None = None, require_token: bool = True) -> Flask:
    """The app factory: settings from the environment, overridden by `config`.

    Only the command line passes require_token=False: it serves no webhooks.
    """
    from werkzeug.exceptions import HTTPException
    from werkzeug.middleware.proxy_fix import ProxyFix

    from .application import Application
    from .config import browser_settings, database_limits, from_environment, instance_secret

    app = Application(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(from_environment(app.instance_path))
    app.config.update(browser_settings())  # cookies, forms and sign-ins of the pages
    app.config.update(config or {})
    if require_token and not app.config["TWILIO_AUTH_TOKEN"]:
        raise RuntimeError(
            "TWILIO_AUTH_TOKEN is not set: ivr refuses to answer webhooks it cannot verify. "
            "Set it to your Twilio auth token (for a local try-out, `ivr serve` makes one up)."
        )
    if app.config.get("SIMULATED_TIME") and app.config["TWILIO_ACCOUNT_SID"]:
        raise RuntimeError(
            "IVR_SIMULATED_TIME=1 lets a signed request choose the time a call is logged at: it is for "
            "`ivr serve` with its made-up token, never with a Twilio account (TWILIO_ACCOUNT_SID is set)."
        )
    if not app.config["SECRET_KEY"]:
        if require_token:
            raise RuntimeError(
                "SECRET_KEY is not set: web sessions need one key shared by every process "
                "(for a local try-out, `ivr serve` makes one up)."
            )
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    _check_secret_key(app.config, serving=require_token)
    logging.basicConfig(
        level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )  # X-Forwarded-Prefix: a proxy serving ivr under a path (/ivr) signs and links with it

    from . import api, deadline, inputs, voice, web
    from .accounts import access
    from .breaker import Breaker
    from .db import Database
    from .flows.store import FlowStore
    from .web.headers import secure_answer

    database = Database(app.config["DATABASE_URL"], *database_limits(app.config, require_token))
    database.init_app(app)
    deadline.install(database)
    app.extensions["ivr.breaker"] = Breaker(app.config["WEBHOOK_DATABASE_RETRY_SECONDS"])
    app.extensions["ivr.flows"] = FlowStore(
        Path(app.config["FLOWS_DIR"]),
        database.sessionmaker,
        app.config["FLOWS_CHECK_SECONDS"],
        watch=app.config.get("FLOWS_WATCH", False),
    )
    access.init_app(app)
    inputs.init_app(app)  # before the routes: their int converter, and the JSON provider
    for blueprint in (voice.bp, api.bp, web.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(secure_answer)  # nosniff everywhere (pages add their own policy: ivr.web.headers)
    for name, registered in app.blueprints.items():  # webhooks and the API are signed, not cookie-based
        if name.split(".")[0] in (voice.bp.name, api.bp.name):
            access.csrf.exempt(registered)
    app.lean_blueprints = frozenset({voice.bp.name})  # webhooks run only their own hooks (ivr.application)
    return app


def _check_secret_key(config: Mapping[str, Any], serving: bool) -> None:
    """Refuse a short SECRET_KEY in an app that serves (not the command line, not tests): anyone who guesses
    it can forge a session cookie and sign in as anybody."""
    from .config import short_secret_key

    problem = short_secret_key(config["SECRET_KEY"])
    if serving and not config.get("TESTING") and problem:
        raise RuntimeError(problem)


def _http_error(error: HTTPException) -> Response | HTTPException:
    """One dispatcher for HTTP errors by path: JSON under /api/ (unknown routes too), /voice/ untouched,
    every other path a styled page."""
    from flask import request

    from .api.errors import json_error
    from .web.errors import error_page

    path = request.path
    if path == "/api" or path.startswith("/api/"):
        return json_error(error)
    if path.startswith("/voice/") or error.code is None or error.code < 400:
        return error
    return error_page(error)
