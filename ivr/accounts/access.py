"""Who may see what over HTTP: web sign-in (Flask-Login, CSRF), bearer tokens, ops-only views, partner scope.
Partners see their desk only; every other API endpoint is ops-only (docs/desks.md, "Partner viewers")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, g, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from ..calls.privacy import Viewer, viewer_for
from ..db import session
from ..engine.site import Desk
from ..models import User
from .tokens import token_desk

F = TypeVar("F", bound=Callable[..., object])
login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Bind Flask-Login and CSRF protection; Twilio webhooks and the bearer API are exempt from CSRF."""
    login_manager.init_app(app)
    login_manager.login_view = "web.sign_in.login"
    csrf.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return session().get(User, int(user_id)) if user_id.isdigit() else None


def published_desks() -> Mapping[str, Desk] | None:
    """The desks of the published site (None when nothing is published yet)."""
    published = current_app.extensions["ivr.flows"].current()
    return published.site.desks if published is not None else None


def current_viewer() -> Viewer:
    """Who this request is for: the API token's scope, else the signed-in user's (cached per request)."""
    if "ivr_viewer" not in g:
        if "ivr_token_desk" in g:
            desk = g.ivr_token_desk
        elif current_user.is_authenticated:
            desk = current_user.desk
        else:
            abort(401)
        g.ivr_viewer = viewer_for(desk, published_desks() if desk is not None else None)
    viewer: Viewer = g.ivr_viewer
    return viewer


def partners_allowed(view: F) -> F:
    """Mark an API view as open to partner tokens (it must then limit what it shows to their desk)."""
    view.partners_allowed = True  # type: ignore[attr-defined]
    return view


def token_required(view: F) -> F:
    """Require `Authorization: Bearer <token>` (401 otherwise); partner tokens get 403 unless allowed.

    It only reads: a request is never a write because of its token (last_used_at is not kept up to date).
    """
    open_to_partners = getattr(view, "partners_allowed", False)

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401)
        known, desk = token_desk(session(), token.strip())
        if not known:
            abort(401)
        g.ivr_token_desk = desk
        if desk is not None and not open_to_partners:
            abort(403, "this is for ops only: partner tokens see only their desk's calls")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def ops_required(view: F) -> F:
    """For signed-in web views that only ops may see: 403 for partner users (put under login_required)."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        if current_viewer().is_partner:
            abort(403, "This page is for ops only: partner accounts see only their desk's calls.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
