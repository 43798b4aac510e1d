"""Web sign-in accounts: create, check a password, change role or password, disable and enable; a partner
account belongs to a desk. Changing a password or disabling ends the account's sessions (session_version)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..engine.site import Desk
from ..flows.errors import NothingPublished
from ..models import User
from .decoy import check_secret
from .roles import scoped_role

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


def check_password(password: str) -> None:
    """Refuse (ValueError) a password shorter than MIN_PASSWORD."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")


def create_user(
    s: Session, username: str, password: str, desk: str | None = None, role: str | None = None
) -> User:
    """A new user: `role` (default ops, or partner of `desk` when a desk is given); refuses short passwords,
    taken names and a role that does not fit the desk (accounts.roles.scoped_role)."""
    check_password(password)
    role = scoped_role(role, desk)
    if s.scalars(select(User).where(User.username == username)).first():
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password), desk=desk, role=role)
    s.add(user)
    s.flush()
    return user


def find_user(s: Session, username: str) -> User:
    """The user with this name (LookupError if there is none)."""
    user = s.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise LookupError(f"no user {username!r}")
    return user


def list_users(s: Session) -> list[User]:
    """Every user, by name."""
    return list(s.scalars(select(User).order_by(User.username)))


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session cookie issued before now stops working."""
    user.session_version += 1


def set_password(s: Session, username: str, password: str) -> User:
    """Give the user a new password; their sessions end (they sign in again with it)."""
    check_password(password)
    user = find_user(s, username)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    return user


def disable_user(s: Session, username: str, now: datetime) -> User:
    """Stop the user from signing in and end their sessions (ValueError if already disabled)."""
    user = find_user(s, username)
    if user.disabled_at is not None:
        raise ValueError(f"user {username!r} is already disabled")
    user.disabled_at = now
    end_sessions(user)
    return user


def enable_user(s: Session, username: str) -> User:
    """Let a disabled user sign in again (ValueError if not disabled)."""
    user = find_user(s, username)
    if user.disabled_at is None:
        raise ValueError(f"user {username!r} is not disabled")
    user.disabled_at = None
    return user


def set_role(s: Session, username: str, role: str, desk: str | None = None) -> User:
    """Give the user another role (a partner needs its desk; any other role has none)."""
    user = find_user(s, username)
    user.role, user.desk = scoped_role(role, desk), desk
    return user


def check_login(s: Session, username: str, password: str) -> User | None:
    """The user if the password is right (disabled or not: the caller says which). An unknown username costs
    the same hash as a known one (accounts.decoy)."""
    user = s.scalars(select(User).where(User.username == username)).first()
    if check_secret(user.password_hash if user is not None else None, password):
        return user
    return None
