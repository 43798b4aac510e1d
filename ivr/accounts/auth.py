"""Who may see what: web sign-in (Flask-Login, CSRF), API bearer tokens, users and tokens, partner scope.
Partners see their desk only; every other API endpoint is ops-only (docs/desks.md, "Partner viewers")."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, g, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..calls.privacy import Viewer, viewer_for
from ..db import session
from ..engine.site import Desk
from ..flows.errors import NothingPublished
from ..models import ApiToken, User

F = TypeVar("F", bound=Callable[..., object])
login_manager = LoginManager()
csrf = CSRFProtect()
MIN_PASSWORD = 10


def init_app(app: Flask) -> None:
    """Bind Flask-Login and CSRF protection; Twilio webhooks and the bearer API are exempt from CSRF."""
    login_manager.init_app(app)
    login_manager.login_view = "web.sign_in.login"
    csrf.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return session().get(User, int(user_id)) if user_id.isdigit() else None


def check_desk(desk: str | None, desks: Mapping[str, Desk] | None) -> None:
    """Refuse (ValueError) a partner desk that the published site does not have."""
    if desk is None:
        return
    if desks is None:
        raise NothingPublished()
    if desk not in desks:
        known = ", ".join(sorted(desks)) or "none"
        raise ValueError(f"desk {desk!r} is not in the published site (its desks: {known})")


def create_user(s: Session, username: str, password: str, desk: str | None = None) -> User:
    """A new user (a partner of `desk` if given); refuses short passwords and taken names."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if s.scalars(select(User).where(User.username == username)).first():
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password), desk=desk)
    s.add(user)
    return user


def check_login(s: Session, username: str, password: str) -> User | None:
    """The user if the password is right."""
    user = s.scalars(select(User).where(User.username == username)).first()
    if user is not None and check_password_hash(user.password_hash, password):
        return user
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(s: Session, name: str, desk: str | None = None) -> str:
    """A new API token (a partner's, of `desk`, if given); only its hash is stored, so show it now."""
    token = "ivr_" + secrets.token_urlsafe(32)
    s.add(ApiToken(name=name, token_hash=_digest(token), desk=desk))
    return token


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
        s = session()
        query = select(ApiToken.id, ApiToken.desk).where(ApiToken.token_hash == _digest(token.strip()))
        found = s.execute(query).first()
        if found is None:
            abort(401)
        g.ivr_token_desk = found.desk
        if found.desk is not None and not open_to_partners:
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
