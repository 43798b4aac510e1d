"""Web sign-in attempts throttled per username typed (existing or not, alike) and per client address, with
locks an admin can lift (docs/accounts.md, "Sign-in locks")."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..models import Throttle, User
from .throttle import Rule, current_locks, fail, lift, locked_until, succeed
from .users import check_login

# 5 wrong in 15 minutes lock the username for 15 minutes; 20 in a day lock it until an admin lifts it
ACCOUNT = Rule("sign_in.account", limit=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
ACCOUNT_DAY = Rule("sign_in.account.day", limit=20, window=timedelta(days=1), lockout=None)
# an address (an office behind one NAT, say) gets more: 30 wrong in 15 minutes lock it for an hour
ADDRESS = Rule("sign_in.address", limit=30, window=timedelta(minutes=15), lockout=timedelta(hours=1))
ACCOUNT_RULES = (ACCOUNT, ACCOUNT_DAY)
RULES = (*ACCOUNT_RULES, ADDRESS)
LOCK_KINDS = {ACCOUNT.scope: "account", ACCOUNT_DAY.scope: "account", ADDRESS.scope: "address"}
MAX_KEY = 255  # the throttles table's key column


@dataclass(frozen=True)
class Lock:
    """A lock in force: which rule, on what key (a username or an address), until when (FOREVER: lifted only
    by an admin)."""

    rule: Rule
    key: str
    until: datetime


@dataclass(frozen=True)
class Attempt:
    """What a sign-in attempt came to: the user (right password), or the locks now in force (empty: just a
    wrong username or password); `new_locks` are the ones this attempt set. `failed`: a password was checked
    and was wrong (not a refusal under a lock)."""

    user: User | None
    locks: tuple[Lock, ...] = ()
    new_locks: tuple[Lock, ...] = ()
    failed: bool = False


def account_key(username: str) -> str:
    """The key a username is counted under: the name as typed (usernames are matched exactly)."""
    return username[:MAX_KEY]


def address_key(address: str | None) -> str:
    """The key an address is counted under: IPv4 as is, IPv6 by its /64 (one host can use a whole /64); a
    key itself (a /64, "unknown") stays what it is."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            return "unknown"
    if ip.version == 6:
        return str(ip.ipv4_mapped or ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(username: str, address: str | None) -> tuple[tuple[Rule, str], ...]:
    name, where = account_key(username), address_key(address)
    return tuple((rule, name) for rule in ACCOUNT_RULES) + ((ADDRESS, where),)


def locks_on(s: Session, username: str, address: str | None, now: datetime) -> tuple[Lock, ...]:
    """The locks that stop this username or address from signing in now."""
    found = ((rule, key, locked_until(s, rule, key, now)) for rule, key in _keys(username, address))
    return tuple(Lock(rule, key, until) for rule, key, until in found if until is not None)


def attempt(s: Session, username: str, password: str, address: str | None, now: datetime) -> Attempt:
    """Try to sign in: refused without a check while a lock is in force; a wrong password (or an unknown
    name) counts against the username and the address; a right one forgets the username's failures (not the
    address's: one good account must not reset the count of guesses at others). The caller commits."""
    locks = locks_on(s, username, address, now)
    if locks:
        return Attempt(None, locks)
    user = check_login(s, username, password)
    if user is None:
        new = tuple(
            Lock(rule, key, until)
            for rule, key in _keys(username, address)
            if (until := fail(s, rule, key, now)) is not None
        )
        return Attempt(None, new, new, failed=True)
    for rule in ACCOUNT_RULES:
        succeed(s, rule, account_key(username), now)
    return Attempt(user)


def sign_in_locks(s: Session, now: datetime) -> list[Throttle]:
    """Every sign-in lock in force, newest first (for the Accounts page and `ivr user locks`)."""
    scopes = {rule.scope for rule in RULES}
    return [row for row in current_locks(s, now) if row.scope in scopes]


def unlock_account(s: Session, username: str) -> list[str]:
    """Lift the username's locks and forget its failures; the scopes lifted (empty: there was nothing)."""
    return [rule.scope for rule in ACCOUNT_RULES if lift(s, rule.scope, account_key(username))]


def unlock_address(s: Session, address: str) -> list[str]:
    """Lift the address's lock (IPv6: its /64) and forget its failures; the scopes lifted."""
    return [ADDRESS.scope] if lift(s, ADDRESS.scope, address_key(address)) else []
