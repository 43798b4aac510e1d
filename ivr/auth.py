"""Who may see what: web sign-in (Flask-Login, CSRF), API bearer tokens, users and tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db import session, utcnow
from .models import ApiToken, User

F = TypeVar("F", bound=Callable[..., object])
login_manager = LoginManager()
csrf = CSRFProtect()
MIN_PASSWORD = 10


def init_app(app: Flask) -> None:
    """Bind Flask-Login and CSRF protection; Twilio webhooks and the bearer API are exempt from CSRF."""
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    csrf.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return session().get(User, int(user_id)) if user_id.isdigit() else None


def create_user(s: Session, username: str, password: str) -> User:
    """A new user with a hashed password; refuses short passwords and taken names."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if s.scalars(select(User).where(User.username == username)).first():
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password))
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


def create_token(s: Session, name: str) -> str:
    """A new API token; only its hash is stored, so the caller must show it now."""
    token = "ivr_" + secrets.token_urlsafe(32)
    s.add(ApiToken(name=name, token_hash=_digest(token)))
    return token


def token_required(view: F) -> F:
    """Require `Authorization: Bearer <token>` (401 otherwise)."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401)
        s = session()
        found = s.scalars(select(ApiToken.id).where(ApiToken.token_hash == _digest(token.strip()))).first()
        if found is None:
            abort(401)
        s.execute(update(ApiToken).where(ApiToken.id == found).values(last_used_at=utcnow()))
        s.commit()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
