"""The JSON API for machines: bearer tokens, the same data as the web pages; one blueprint per feature.
Errors are JSON for every feature: {"error": {"status", "message"}}."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from . import calls, campaigns, dnc, live, reports

FEATURES = (calls.bp, reports.bp, campaigns.bp, dnc.bp, live.bp)  # endpoints api.<feature>.<view>

bp = Blueprint("api", __name__, url_prefix="/api")
for feature in FEATURES:
    bp.register_blueprint(feature)


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> tuple[Response, int]:
    response = jsonify(error={"status": error.code, "message": error.description})
    code = error.code or 400
    return response, code


@bp.after_request
def _challenge(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ivr"'
    return response
