"""Who may do what over HTTP: web sign-in (Flask-Login, CSRF, sessions that end), bearer tokens, and
`requires(capability)` on every page and API view (roles: accounts.roles). Partners see their desk only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, g, request
from flask import session as cookie
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from ..calls.privacy import Viewer, viewer_for
from ..db import session, utcnow
from ..engine.site import Desk
from ..models import User
from .audit import Actor
from .roles import CAPABILITIES, allows, refusal
from .tokens import find_token
from .users import end_sessions

F = TypeVar("F", bound=Callable[..., object])
login_manager = LoginManager()
csrf = CSRFProtect()
SESSION_VERSION = "ivr_session_version"  # the user's session_version when this cookie was issued


def init_app(app: Flask) -> None:
    """Bind Flask-Login and CSRF protection; Twilio webhooks and the bearer API are exempt from CSRF."""
    login_manager.init_app(app)
    login_manager.login_view = "web.sign_in.login"
    csrf.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user, unless disabled since or signed out everywhere since (session_version)."""
    user = session().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or user.disabled_at is not None:
        return None
    if cookie.get(SESSION_VERSION) != user.session_version:
        return None
    return user


def start_session(user: User) -> None:
    """Sign the user in on this browser (the cookie carries their current session_version)."""
    login_user(user)
    cookie[SESSION_VERSION] = user.session_version


def end_session(user: User) -> None:
    """Sign out: this cookie and every other of the user's stop working (the caller commits)."""
    end_sessions(user)
    logout_user()
    cookie.pop(SESSION_VERSION, None)


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


def _is_api() -> bool:
    return (request.blueprint or "").split(".")[0] == "api"


def _api_role() -> str:
    """The bearer token's role (401 without a valid token); keeps the token and its desk for the request.

    It only reads: a request is never a write because of its token (last_used_at is not kept up to date).
    """
    if "ivr_token" in g:
        role: str = g.ivr_token.role
        return role
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


def current_role() -> str | None:
    """The role this request acts with: the token's (API) or the signed-in user's (pages); None if neither."""
    return _api_role() if _is_api() else _web_role()


def can(capability: str) -> bool:
    """Whether this request's role has `capability` (for templates: show only what may be used)."""
    role = current_role()
    return role is not None and allows(role, capability)


def requires(capability: str) -> Callable[[F], F]:
    """Let a page or API view run only for roles with `capability` (accounts.roles): the API by bearer token
    (401 without one), pages by sign-in (to the sign-in page without one); 403 for a role without it."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            role = current_role()
            if role is None:
                return login_manager.unauthorized()
            if not allows(role, capability):
                abort(403, refusal(role, capability))
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
