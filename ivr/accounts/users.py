"""Web sign-in accounts: create, check a password, and the desk a partner account belongs to."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..engine.site import Desk
from ..flows.errors import NothingPublished
from ..models import User

MIN_PASSWORD = 10


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
