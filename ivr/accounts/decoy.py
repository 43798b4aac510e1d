"""Checking a secret (password, PIN) so that an unknown name costs what a known one costs: without a stored
hash, the same check runs against a decoy hash of the same method, so timing tells nobody who exists."""

from __future__ import annotations

import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

DEFAULT_METHOD = "scrypt"  # werkzeug's default: what generate_password_hash uses when given no method


def decoy_hash(method: str = DEFAULT_METHOD) -> str:
    """A hash of a random secret made with `method` (made once per process): no guess ever matches it."""
    return _decoy(method)


@cache
def _decoy(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(24), method=method)


def check_secret(stored: str | None, secret: str, method: str = DEFAULT_METHOD) -> bool:
    """Whether `secret` matches the stored hash; with none (an unknown name), the same work against a decoy
    hash of `method` (the method real hashes are made with), and False."""
    if stored is None:
        check_password_hash(decoy_hash(method), secret)
        return False
    return check_password_hash(stored, secret)
