"""Pages for people: one blueprint per feature, nested in the `web` blueprint that holds templates and styles.
A partner user sees only their desk's calls, masked per its data policy (ivr.calls.privacy)."""

from __future__ import annotations

from flask import Blueprint

from ..accounts.access import can, current_viewer
from ..calls.privacy import mask_number
from . import admin, calls, campaigns, compare, flows, live, sign_in, trial
from .headers import secure

# endpoints web.<feature>.<view>
FEATURES = (sign_in.bp, calls.bp, compare.bp, campaigns.bp, live.bp, flows.bp, trial.bp, admin.bp)

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web"
)
for feature in FEATURES:
    bp.register_blueprint(feature)
bp.after_request(secure)  # every page of every feature (and their error pages): CSP and friends


@bp.app_context_processor
def _scope() -> dict[str, object]:
    """The signed-in viewer, what their role can do, and a number filter that masks for them."""

    def number(value: str | None) -> str:
        if not value:
            return ""
        return mask_number(value) if current_viewer().masks_numbers else value

    return {"viewer": current_viewer, "shown_number": number, "can": can}
