"""Twilio's webhooks: signed, thin, and never a 500 to Twilio; one blueprint per feature under /voice.
Every request passes the body and signature checks here first, for every feature."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException

from . import agent_line, flow, outbound
from .security import check_body, check_identifiers, check_signature, simulated_time

FEATURES = (flow.bp, agent_line.bp, outbound.bp)  # endpoints voice.<feature>.<view>

bp = Blueprint("voice", __name__, url_prefix="/voice")
for feature in FEATURES:
    bp.register_blueprint(feature)


@bp.before_request
def _checks() -> None:
    check_body()
    check_signature()
    check_identifiers()
    simulated_time()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    return (
        f"{error.code} {error.name}: {error.description}\n",
        error.code or 400,
        {"Content-Type": "text/plain"},
    )
