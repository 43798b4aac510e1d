"""The JSON API for machines: bearer tokens, the same data as the web pages; one blueprint per feature.
Errors are JSON on every path under /api/ (errors.py, through the app's dispatcher in ivr/__init__.py)."""

from __future__ import annotations

from flask import Blueprint

from . import audit, calls, campaigns, dnc, flows, live, openapi, reports, trial

# endpoints api.<feature>.<view>
FEATURES = (calls.bp, reports.bp, campaigns.bp, dnc.bp, live.bp, flows.bp, trial.bp, openapi.bp, audit.bp)

bp = Blueprint("api", __name__, url_prefix="/api")
for feature in FEATURES:
    bp.register_blueprint(feature)
