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
from ..db import session, utcnow
from ..engine.site import Desk
from ..models import User
from .audit import Actor
from .roles import CAPABILITIES, allows
from .tokens import find_token, token_desk

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


def _api_role() -> str:
    """The bearer token's role (401 without a valid token); keeps the token and its desk for the request."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        abort(401)
    row = find_token(session(), value.strip(), utcnow())  # expiry is wall-clock time, never simulated
    if row is None:
        abort(401)
    g.ivr_token, g.ivr_token_desk = row, row.desk
    return row.role


def _web_role() -> str | None:
    """The signed-in user's role, or None when nobody is signed in."""
    if not current_user.is_authenticated:
        return None
    role: str = current_user.role
    return role


def requires(capability: str) -> Callable[[F], F]:
    """Let a page or API view run only for roles with `capability` (accounts.roles): the API by bearer token
    (401 without one), pages by sign-in (to the sign-in page without one); 403 for a role without it."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if (request.blueprint or "").split(".")[0] == "api":
                role = _api_role()
            else:
                found = _web_role()
                if found is None:
                    return login_manager.unauthorized()
                role = found
            if not allows(role, capability):
                abort(403, f"This needs the {capability} permission, which the {role} role does not have.")
            return view(*args, **kwargs)

        wrapper.capability = capability  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def current_actor() -> Actor:
    """Who is acting in this request, for the audit log: the token's name or the user's, and the address."""
    address = request.remote_addr or ""
    if "ivr_token" in g:
        return Actor(f"token:{g.ivr_token.name}", address)
    return Actor(current_user.username if current_user.is_authenticated else "anonymous", address)


def current_owner() -> str:
    """Whose drafts this request works on: "token:<id>" for the API, "user:<id>" for pages."""
    if "ivr_token" in g:
        return f"token:{g.ivr_token.id}"
    return f"user:{current_user.id}"
