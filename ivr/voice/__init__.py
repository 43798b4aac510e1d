"""Twilio's webhooks: signed, thin, and never a 500 to Twilio; one blueprint per feature under /voice.
Every request passes the checks here first, and only these hooks run for a webhook (ivr.application)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from werkzeug.exceptions import HTTPException

from .. import deadline
from ..db import close_session
from . import agent_line, fallback_url, flow, outbound
from .security import check_identifiers, check_signature, read_form, simulated_time

FEATURES = (flow.bp, agent_line.bp, outbound.bp, fallback_url.bp)  # endpoints voice.<feature>.<view>

bp = Blueprint("voice", __name__, url_prefix="/voice")
for feature in FEATURES:
    bp.register_blueprint(feature)


@bp.before_request
def _checks() -> None:
    # first: the checks may take time too; the breaker may say to answer without the database at once
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # once, not a lookup per use
    deadline.begin(app.config["WEBHOOK_DEADLINE_SECONDS"], app.extensions["ivr.breaker"])
    form = read_form()
    check_signature(form)
    check_identifiers(form)
    simulated_time(form)


@bp.after_request
def _nosniff(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")  # as on every answer (ivr.web.headers)
    return response


@bp.teardown_request
def _end(_exc: BaseException | None) -> None:
    close_session()  # under the deadline: giving the connection back may talk to the database
    deadline.end()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    return (
        f"{error.code} {error.name}: {error.description}\n",
        error.code or 400,
        {"Content-Type": "text/plain"},
    )
