"""Roles on every route: each page and API view names the capability it needs (a rule without one fails
here, whoever adds it), and each role gets exactly what the role table promises, route by route."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from lxml import html
from werkzeug.routing import Rule

from ivr.accounts.roles import CAPABILITIES, ROLES
from ivr.accounts.tokens import create_token
from ivr.accounts.users import create_user

from .test_web import PASSWORD, _csrf, _login

# Open on purpose: files, Twilio's webhooks (signed instead), signing in and out, the API's own description.
OPEN_ENDPOINTS = frozenset(
    {"static", "web.static", "web.sign_in.login", "web.sign_in.logout", "api.openapi.show"}
)
OPEN_BLUEPRINTS = ("voice",)

# What each role may do, as the issue puts it: admin (users, tokens, the audit log, and all the rest),
# supervisor (flows, campaigns, do-not-call), ops (call log, reports, read-only campaigns), partner (a desk).
PROMISED = {
    "admin": set(CAPABILITIES),
    "supervisor": {"view_calls", "view_reports", "view_flows", "edit_flows", "view_campaigns",
                   "run_campaigns", "view_dnc", "edit_dnc"},
    "ops": {"view_calls", "view_reports", "view_flows", "view_campaigns", "view_dnc"},
    "partner": {"view_calls"},
}  # fmt: skip

# The capability of every guarded route, pinned: a new route is added here with the capability it needs.
GUARDED = {
    "web.calls.index": "view_calls", "web.calls.csv": "view_calls", "web.calls.show": "view_calls",
    "web.live.page": "view_calls", "web.live.data": "view_calls",
    "web.compare.page": "view_reports", "web.compare.json": "view_reports", "web.compare.csv": "view_reports",
    "web.campaigns.index": "view_campaigns", "web.campaigns.show": "view_campaigns",
    "web.campaigns.act": "run_campaigns",
    "web.admin.audit": "view_audit", "web.admin.accounts": "manage_accounts",
    "web.admin.unlock": "manage_accounts",
    "api.calls.index": "view_calls", "api.calls.csv": "view_calls", "api.calls.show": "view_calls",
    "api.live.board": "view_calls", "api.reports.compare": "view_reports",
    "api.campaigns.index": "view_campaigns", "api.campaigns.show": "view_campaigns",
    "api.campaigns.create": "run_campaigns", "api.campaigns.import_list": "run_campaigns",
    "api.campaigns.change": "run_campaigns",
    "api.dnc.index": "view_dnc", "api.dnc.show": "view_dnc", "api.dnc.add": "edit_dnc",
    "api.dnc.remove": "edit_dnc", "api.dnc.import_list": "edit_dnc", "api.dnc.removals": "view_dnc",
    "api.audit.index": "view_audit",
    "web.flows.index": "view_flows", "web.flows.history_page": "view_flows", "web.flows.diff": "view_flows",
    "web.flows.version_view": "view_flows", "web.flows.schema": "view_flows", "web.flows.names": "view_flows",
    "web.trial.graph": "view_flows",
    "web.flows.edit": "edit_flows", "web.flows.change": "edit_flows", "web.flows.check": "edit_flows",
    "web.flows.discard": "edit_flows", "web.flows.new_flow": "edit_flows", "web.flows.delete": "edit_flows",
    "web.flows.publish_all": "edit_flows", "web.flows.rebase": "edit_flows",
    "web.flows.roll_back": "edit_flows", "web.trial.try_call": "edit_flows",
    "api.flows.index": "view_flows", "api.flows.read": "view_flows", "api.flows.versions": "view_flows",
    "api.flows.diff": "view_flows",
    "api.flows.drafts": "edit_flows", "api.flows.put_draft": "edit_flows",
    "api.flows.delete_draft": "edit_flows", "api.flows.validate": "edit_flows",
    "api.flows.publish": "edit_flows", "api.flows.roll_back": "edit_flows",
    "api.trial.try_call": "edit_flows",
}  # fmt: skip

# A value for each kind of URL argument (none of them exists: an allowed request may well be a 404).
ARGUMENTS = {
    "call_sid": "CA0",
    "ref": "999999",
    "action": "start",
    "phone": "+15125550100",
    "document": "main.json",
}


def _is_open(rule: Rule) -> bool:
    return rule.endpoint in OPEN_ENDPOINTS or rule.endpoint.split(".")[0] in OPEN_BLUEPRINTS


def _guarded(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, a URL of it) of every route that needs a capability."""
    for rule in app.url_map.iter_rules():
        if _is_open(rule):
            continue
        values = {
            name: 999999 if re.search(rf"<int:{name}>", rule.rule) else ARGUMENTS.get(name, "x")
            for name in rule.arguments
        }
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, v=values: str(v[m.group(1)]), rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method, path


def test_every_route_but_the_open_ones_names_its_capability(app):
    missing = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if not _is_open(rule) and getattr(app.view_functions[rule.endpoint], "capability", None) is None
    ]
    assert missing == []
    assert {rule.endpoint for rule, _, _ in _guarded(app)} == set(GUARDED)


def test_each_route_needs_the_capability_chosen_for_it(app):
    needs = {endpoint: app.view_functions[endpoint].capability for endpoint in GUARDED}
    assert needs == GUARDED


def test_the_role_table_is_the_one_promised():
    assert {role: {c for c, roles in CAPABILITIES.items() if role in roles} for role in ROLES} == PROMISED


def _request(client, method: str, path: str, headers: dict[str, str], csrf: str):
    """The request a browser or a machine would send: the CSRF token with a page's form, {} to the API."""
    if path.startswith("/api/"):
        body = {"json": {}} if method in ("POST", "PUT", "PATCH", "DELETE") else {}
        return client.open(path, method=method, headers=headers, **body)
    data = {"data": {"csrf_token": csrf}} if method != "GET" else {}
    return client.open(path, method=method, **data)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_each_role_gets_what_its_capabilities_allow_on_every_route(app, client, session, role):
    headers = {}
    if role is not None:
        desk = "bpo" if role == "partner" else None
        create_user(session, role, PASSWORD, desk, role)
        headers = {"Authorization": f"Bearer {create_token(session, role, desk, role)}"}
        session.commit()
        assert _login(client, role, PASSWORD).status_code == 302
    csrf = _csrf(client.get("/login").data)
    wrong = []
    for rule, method, path in _guarded(app):
        capability = app.view_functions[rule.endpoint].capability
        response = _request(client, method, path, headers, csrf)
        to_sign_in = response.status_code == 302 and response.headers["Location"].startswith("/login")
        if role is None:
            expected = "401" if path.startswith("/api/") else "sign-in"
        else:
            expected = "allowed" if capability in PROMISED[role] else "403"
        got = {401: "401", 403: "403"}.get(response.status_code, "sign-in" if to_sign_in else "allowed")
        if got != expected or response.status_code >= 500:
            wrong.append(f"{method} {path} as {role}: {response.status_code}, expected {expected}")
    assert wrong == []


@pytest.mark.parametrize(
    ("role", "links"),
    [
        ("admin", ["Calls", "Live", "Compare desks", "Campaigns", "Flows", "Audit", "Accounts"]),
        ("supervisor", ["Calls", "Live", "Compare desks", "Campaigns", "Flows"]),
        ("ops", ["Calls", "Live", "Compare desks", "Campaigns", "Flows"]),
        ("partner", ["Calls", "Live"]),
    ],
)
def test_the_header_links_only_what_the_role_may_use(client, session, role, links):
    create_user(session, role, PASSWORD, "bpo" if role == "partner" else None, role)
    session.commit()
    assert _login(client, role, PASSWORD).status_code == 302
    page = html.fromstring(client.get("/").data)
    assert [a.text_content().strip() for a in page.xpath("//header/nav/a")] == links
    assert page.xpath("string(//header//span[@class='role'])") == role
