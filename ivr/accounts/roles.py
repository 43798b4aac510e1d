"""Roles and what each may do: one table, read by every page and API route (docs/accounts.md)."""

from __future__ import annotations

ADMIN, SUPERVISOR, OPS, PARTNER = "admin", "supervisor", "ops", "partner"
ROLES = (ADMIN, SUPERVISOR, OPS, PARTNER)

# capability -> the roles that have it
CAPABILITIES: dict[str, frozenset[str]] = {
    "view_calls": frozenset({ADMIN, SUPERVISOR, OPS, PARTNER}),  # partners: their desk only, masked
    "view_reports": frozenset({ADMIN, SUPERVISOR, OPS}),
    "view_flows": frozenset({ADMIN, SUPERVISOR, OPS}),
    "edit_flows": frozenset({ADMIN, SUPERVISOR}),  # drafts, validate, try, publish, roll back
    "view_campaigns": frozenset({ADMIN, SUPERVISOR, OPS}),
    "run_campaigns": frozenset({ADMIN, SUPERVISOR}),
    "view_dnc": frozenset({ADMIN, SUPERVISOR, OPS}),
    "edit_dnc": frozenset({ADMIN, SUPERVISOR}),
    "remove_opt_outs": frozenset({ADMIN}),  # a callee's own opt-out off the do-not-call list (with a reason)
    "manage_accounts": frozenset({ADMIN}),  # users and tokens
    "view_audit": frozenset({ADMIN}),
}


# what each capability lets a role do, in words (403 messages, docs/accounts.md)
DOES = {
    "view_calls": "see the call log and the wallboard",
    "view_reports": "see the desk comparison reports",
    "view_flows": "read the flows and their history",
    "edit_flows": "edit, try, publish or roll back flows",
    "view_campaigns": "see campaigns",
    "run_campaigns": "create, import into, start, pause, resume or cancel campaigns",
    "view_dnc": "read the do-not-call list",
    "edit_dnc": "change the do-not-call list",
    "remove_opt_outs": "take a callee's own opt-out off the do-not-call list",
    "manage_accounts": "manage users and tokens",
    "view_audit": "read the audit log",
}


def refusal(role: str, capability: str) -> str:
    """Why `role` is refused (a 403's message)."""
    return f"The {role} role may not {DOES[capability]} (it needs the {capability} permission)."


def check_role(role: str) -> str:
    """The role itself, or ValueError naming the valid ones."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def allows(role: str, capability: str) -> bool:
    """Whether `role` has `capability` (KeyError for a capability that does not exist)."""
    return role in CAPABILITIES[capability]


def scoped_role(role: str | None, desk: str | None) -> str:
    """The role of a new account or token: least privilege when not given (ops, or partner with a desk);
    ValueError for an unknown role, a partner without a desk, or a desk on any other role."""
    if role is None:
        return PARTNER if desk is not None else OPS
    check_role(role)
    if role == PARTNER and desk is None:
        raise ValueError("a partner sees one desk's calls: give the desk (--desk)")
    if role != PARTNER and desk is not None:
        raise ValueError(f"only a partner has a desk: the {role} role sees every desk")
    return role
