"""The campaign pages: the list with progress bars, a campaign's figures, its state buttons for roles that may
run campaigns. Nested in the web blueprint (endpoints `web.campaigns.*`): same sign-in, CSRF and layout."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..accounts.access import can, current_actor, requires
from ..accounts.audit import record
from ..campaigns.figures import LABELS
from ..campaigns.rules import ACTIONS, TransitionError
from ..campaigns.service import change_state, find_campaign, list_campaigns
from ..campaigns.tally import campaign_figures
from ..db import session
from ..extensions import clock
from ..models import Campaign

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
BUTTONS = ("start", "pause", "resume", "cancel")
# Actions that cannot be undone ask first: in the browser (ivr.js, data-confirm), else on a page of their own.
CONFIRM = {"cancel": "Cancel campaign {name}? No more calls will be placed, and it cannot be started again."}


def _campaign(campaign_id: int) -> Campaign:
    try:
        return find_campaign(session(), campaign_id)
    except LookupError:
        abort(404)


@bp.get("/")
@requires("view_campaigns")
def index() -> str:
    """Every campaign with its state and progress."""
    s = session()
    now = clock()
    rows = [(c, campaign_figures(s, c, now)) for c in list_campaigns(s)]
    return render_template("campaigns.html", rows=rows)


@bp.get("/<int:campaign_id>")
@requires("view_campaigns")
def show(campaign_id: int) -> str:
    """One campaign: settings, progress, figures, abandonment rate against the limit, state buttons.

    It only reads: a campaign with nothing left to call was marked finished by the change that left it so.
    """
    s = session()
    found = _campaign(campaign_id)
    figures = campaign_figures(s, found, clock())
    values = figures.as_dict()
    allowed = (
        [action for action in BUTTONS if found.state in ACTIONS[action][0]] if can("run_campaigns") else []
    )
    return render_template(
        "campaign.html",
        campaign=found,
        figures=figures,
        values=values,
        labels=LABELS,
        actions=allowed,
        confirm=CONFIRM,
    )


@bp.post("/<int:campaign_id>/<action>")
@requires("run_campaigns")
def act(campaign_id: int, action: str) -> str | BaseResponse:
    """Start, pause, resume or cancel (a form with the CSRF token), then back to the page.

    Cancelling needs confirmed=yes (the browser's confirmation adds it); without it, a page asks first.
    """
    if action not in BUTTONS:
        abort(404)
    s = session()
    found = _campaign(campaign_id)
    if action in CONFIRM and request.form.get("confirmed") != "yes":
        question = CONFIRM[action].format(name=found.name)
        return render_template("confirm.html", campaign=found, action=action, question=question)
    before, now = found.state, clock()
    try:
        state = change_state(s, found, action, now)
    except TransitionError as exc:
        s.rollback()
        flash(str(exc))
    else:
        actor = current_actor()
        record(s, actor, f"campaign.{action}", found.name, now, id=found.id, before=before, state=state)
        s.commit()
        flash(f"Campaign {found.name} is {state} now.")
    return redirect(url_for("web.campaigns.show", campaign_id=campaign_id))
