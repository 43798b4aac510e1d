"""The editor page's JavaScript (ivr/web/assets, bundled in ivr/web/static/build) on a fixture page.

The page is the contract's DOM (form#draft-form, textarea#source, div#workspace with its data-*-url,
ul#problems, div#graph, section#try), served by Playwright's router under the pages' Content-Security-Policy,
with the check, graph and try endpoints answered in the shape the server gives: the JS alone is under test.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from .conftest import WIDE, WIDTHS, too_wide

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "ivr" / "web" / "static" / "build"
SCHEMA = ROOT / "ivr" / "schemas" / "flow.schema.json"
SITE_SCHEMA = ROOT / "ivr" / "schemas" / "site.schema.json"
SITE = json.loads((ROOT / "flows" / "site.json").read_text(encoding="utf-8"))
# the sample site, its fallback dialling a number (a reference to the flow schema's dialTarget)
SITE_TEXT = json.dumps(SITE | {"fallback": {"prompt": "Sorry.", "dial": "+15125550100"}}, indent=2) + "\n"
ORIGIN = "http://ivr.test"
EDIT_PATH = "/flows/edit/main.json"
CSRF = "csrf-token-for-the-test"
CSP = "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
JSON_TYPE = "application/json"

FLOW = {
    "name": "main",
    "start": "greeting",
    "nodes": {
        "greeting": {"type": "say", "prompt": "Hello.", "next": "menu"},
        "menu": {
            "type": "menu",
            "prompt": "For billing press 1, for support press 2.",
            "options": {"1": "billing", "2": {"next": "support", "speech": ["support"]}},
            "timeout": "menu",
            "invalid": "bye",
        },
        "billing": {"type": "goto", "flow": "billing"},
        "support": {"type": "say", "prompt": "Support is closed today.", "next": "bye"},
        "bye": {"type": "hangup"},
        "orphan": {"type": "hangup"},
    },
}
TEXT = json.dumps(FLOW, indent=2) + "\n"
PUBLISHED = TEXT.replace("Support is closed today.", "Support is open.").replace('"orphan"', '"spare"')
SUCCESSORS = ("next", "timeout", "invalid")


def graph_of(text: str, problem_nodes: list[str], warning_nodes: list[str]) -> dict[str, Any]:
    """The graph JSON the server answers: nodes (with what they say as label), edges labelled by key or
    outcome, edges to nodes not written yet (dangling), gotos, unreachable, problem and warning nodes."""
    try:
        nodes = json.loads(text)["nodes"]
    except (ValueError, KeyError) as exc:
        empty: list[Any] = []
        return {"nodes": [], "edges": [], "gotos": [], "dangling": [], "problem_nodes": empty,
                "warning_nodes": empty, "invalid": f"invalid JSON: {exc}"}  # fmt: skip
    edges = []
    for name, node in nodes.items():
        edges += [{"from": name, "to": node[key], "label": key} for key in SUCCESSORS if key in node]
        for key, option in node.get("options", {}).items():
            edges.append(
                {"from": name, "to": option if isinstance(option, str) else option["next"], "label": key}
            )
    reached, todo = set(), [json.loads(text)["start"]]
    while todo:
        name = todo.pop()
        if name in nodes and name not in reached:
            reached.add(name)
            todo += [edge["to"] for edge in edges if edge["from"] == name]
    return {
        "nodes": [
            {
                "id": name,
                "type": node["type"],
                "label": node.get("prompt") or node.get("flow") or "",
                "start": name == "greeting",
                "unreachable": name not in reached,
            }
            for name, node in nodes.items()
        ],
        "edges": [edge for edge in edges if edge["to"] in nodes],
        "dangling": [edge for edge in edges if edge["to"] not in nodes],
        "gotos": [
            {"from": name, "flow": node["flow"]} for name, node in nodes.items() if node["type"] == "goto"
        ],
        "problem_nodes": problem_nodes,
        "warning_nodes": warning_nodes,
        "invalid": None,
    }


def say(what: str) -> dict[str, str]:
    """An IVR prompt event of a try."""
    return {"who": "ivr", "what": what, "kind": "say"}


GREETED: dict[str, Any] = {
    "events": [
        say("Hello."),
        say("For billing press 1, for support press 2."),
        {"who": "ivr", "what": "", "kind": "gather"},
    ],
    "path": [{"flow": "main", "node": "greeting"}, {"flow": "main", "node": "menu"}],
    "waiting": "digits speech",
    "ended": False,
    "problems": [],
}
TO_SUPPORT: dict[str, Any] = {
    "events": [
        *GREETED["events"],
        {"who": "caller", "what": "pressed 2", "kind": "input"},
        say("Support is closed today."),
        {"who": "system", "what": "the call ended", "kind": "hangup"},
    ],
    "path": [*GREETED["path"], {"flow": "main", "node": "support"}, {"flow": "main", "node": "bye"}],
    "waiting": None,
    "ended": True,
    "problems": [],
}


def tried(request: dict[str, Any]) -> dict[str, Any]:
    """The try endpoint's answer for the inputs so far (the call replayed from the start)."""
    return TO_SUPPORT if request["inputs"] else GREETED


def edit_page(problems: str, document: str = "main.json", text: str = TEXT) -> str:
    """The editor page as the server renders it (the contract's DOM), `problems` in ul#problems."""
    kind = "site" if document == "site.json" else "flow"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="csrf-token" content="{CSRF}">
<title>main.json</title>
<style>textarea {{ display: block; }}</style>
<script src="/static/web/build/editor.js" defer></script>
</head><body>
<div id="workspace" data-document="{document}" data-kind="{kind}"
  data-schema-url="/flows/schema/{kind}.json" data-check-url="/flows/check" data-graph-url="/flows/graph"
  data-try-url="/flows/try" data-names-url="/flows/names">
<ul id="problems">{problems}</ul>
<form id="draft-form" method="post" action="/flows/edit/{document}">
<input type="hidden" name="csrf_token" value="{CSRF}">
<textarea id="source" name="text" rows="30" cols="80">{html.escape(text)}</textarea>
<label>Note <input name="note"></label>
<button name="action" value="save">Save</button>
<button name="action" value="validate">Validate</button>
<button name="action" value="publish">Publish</button>
<div id="graph"></div>
<section id="try" data-try-url="/flows/try"></section>
</form>
<textarea id="published" hidden readonly>{html.escape(PUBLISHED)}</textarea>
</div>
</body></html>"""


def problem(
    file: str, node: str | None, field: str | None, message: str, severity: str = "error"
) -> dict[str, Any]:
    """One problem as the check endpoint answers it."""
    return {"file": file, "node": node, "field": field, "message": message, "severity": severity}


def problem_item(node: str | None, field: str | None, message: str = "something is wrong") -> str:
    """One server-rendered problem: li.problem > a[data-node][data-field]."""
    data = "".join(f' data-{key}="{value}"' for key, value in (("node", node), ("field", field)) if value)
    return f'<li class="problem error"><a href="#source"{data}>{html.escape(message)}</a></li>'


@dataclass
class Site:
    """What the fixture server was asked, and what it answers."""

    problems_html: str = ""
    check_answers: list[dict[str, Any]] = field(default_factory=list)
    problem_nodes: list[str] = field(default_factory=list)
    warning_nodes: list[str] = field(default_factory=list)
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    tries: Callable[[dict[str, Any]], dict[str, Any]] = tried
    broken: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # path -> status, type, body

    def handle(self, route: Route) -> None:
        """Answer one request of the page as the server would."""
        request = route.request
        path = urlsplit(request.url).path
        if path.startswith("/flows/edit/") and request.method == "POST":
            self.forms.append(parse_qs(request.post_data or ""))
            route.fulfill(status=200, content_type="text/html", body="<p>saved</p>")
        elif path == "/flows/edit/site.json":
            body = edit_page("", "site.json", SITE_TEXT)
            route.fulfill(
                status=200, content_type="text/html", body=body, headers={"Content-Security-Policy": CSP}
            )
        elif path == EDIT_PATH:
            body = edit_page(self.problems_html)
            route.fulfill(
                status=200, content_type="text/html", body=body, headers={"Content-Security-Policy": CSP}
            )
        elif path.startswith("/static/web/build/"):
            file = BUILD / path.rsplit("/", 1)[1]
            kind = "text/css" if file.suffix == ".css" else "text/javascript"
            route.fulfill(status=200, content_type=kind, body=file.read_bytes())
        elif path == "/flows/names":
            route.fulfill(status=200, content_type=JSON_TYPE, body=json.dumps(NAMES))
        elif path in ("/flows/schema/flow.json", "/flows/schema/site.json"):
            schema = SCHEMA if path.endswith("flow.json") else SITE_SCHEMA
            route.fulfill(status=200, content_type=JSON_TYPE, body=schema.read_bytes())
        elif path in self.broken and request.method == "POST":
            status, kind, body = self.broken[path]
            route.fulfill(status=status, content_type=kind, body=body)
        elif path in ("/flows/check", "/flows/graph", "/flows/try") and request.method == "POST":
            asked = json.loads(request.post_data or "{}")
            self.posts.setdefault(path, []).append(asked)
            self.headers.append(request.headers)
            route.fulfill(status=200, content_type=JSON_TYPE, body=json.dumps(self.answer(path, asked)))
        else:
            route.fulfill(status=404, body="not found")

    def answer(self, path: str, asked: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer of a check, graph or try endpoint."""
        if path == "/flows/check":
            return self.check_answers.pop(0) if self.check_answers else {"problems": []}
        if path == "/flows/graph":
            return graph_of(asked["text"], self.problem_nodes, self.warning_nodes)
        return self.tries(asked)


@dataclass
class Opened:
    """The fixture page in a browser, the fixture server, and what went wrong in the page."""

    page: Page
    site: Site
    errors: list[str]


Open = Callable[..., Opened]


@pytest.fixture
def open_editor(browser: Browser) -> Iterator[Open]:
    """open_editor(site=Site()): the editor page, enhanced; any page error or CSP refusal fails the test."""
    opened: list[Opened] = []

    def open_page(site: Site | None = None, width: int = WIDE, address: str = EDIT_PATH) -> Opened:
        site = site or Site()
        context = browser.new_context(viewport={"width": width, "height": 900}, base_url=ORIGIN)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        context.route("**/*", site.handle)
        page.goto(address)
        expect(page.locator("#workspace .cm-editor")).to_be_visible()
        result = Opened(page, site, errors)
        opened.append(result)
        return result

    yield open_page
    errors = [error for each in opened for error in each.errors]  # before closing: not the closing's own
    for each in opened:
        each.page.context.close()
    assert errors == []


def replace_text(page: Page, text: str) -> None:
    """Select everything in the editor and paste `text` over it, as a person would."""
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def cursor_line(page: Page) -> str:
    """The text of the line the cursor is on."""
    return page.locator(".cm-activeLine").inner_text().strip()


def test_codemirror_replaces_the_textarea_and_the_form_posts_its_text(open_editor: Open) -> None:
    opened = open_editor()
    page, site = opened.page, opened.site
    assert page.locator("#source").is_hidden()
    assert '"greeting": {' in page.locator(".cm-content").inner_text()
    changed = TEXT.replace("Hello.", "Good morning.")
    replace_text(page, changed)
    assert page.locator("#source").input_value() == changed
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("saved")
    posted = site.forms[-1]["text"][0]
    assert posted.replace("\r\n", "\n") == changed  # browsers post a textarea's lines with CRLF
    assert site.forms[-1]["action"] == ["save"]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (TEXT.replace('"next": "bye"', '"next": "bye", "colour": "red"'), "colour"),
        (TEXT.replace('"type": "goto"', '"type": "goto_flow"'), "goto_flow"),
        (TEXT.replace('"prompt": "Hello."', '"prompt": 5'), "5"),
    ],
    ids=["unknown field", "unknown node type", "wrong type"],
)
def test_a_schema_error_shows_as_you_type(open_editor: Open, broken: str, message: str) -> None:
    page = open_editor().page
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    replace_text(page, broken)
    expect(page.locator(".cm-lintRange-error").first).to_be_visible()
    expect(page.locator(".cm-gutter-lint .cm-lint-marker-error").first).to_be_visible()
    page.locator(".cm-content").press("Control+Shift+M")  # the lint panel lists every diagnostic
    expect(page.locator(".cm-panel-lint")).to_contain_text(message)


def complete_at(page: Page, typed: str) -> Locator:
    """Put the cursor at the end of the string `typed`, the last on its line, and ask for completions."""
    page.keyboard.press("Control+End")  # the editor scrolls to the end (the node edited) before the click
    page.wait_for_timeout(100)
    page.locator(".cm-content").get_by_text(typed, exact=True).click()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # inside the closing quote
    page.keyboard.press("Control+Space")
    options = page.locator(".cm-tooltip-autocomplete li")
    expect(options.first).to_be_visible()
    return options


NAMES = {"flows": ["billing", "main", "sales"], "desks": ["bpo", "local"], "schedules": ["support_hours"]}
ORPHAN = '"orphan": {\n      "type": "hangup"\n    }'


def with_orphan(node: dict[str, Any]) -> str:
    """The flow's text with the node `orphan` replaced, one field a line (the last field is the typed one)."""
    assert ORPHAN in TEXT
    return TEXT.replace(ORPHAN, '"orphan": ' + json.dumps(node, indent=2))


@pytest.mark.parametrize(
    ("node", "offered", "completed"),
    [
        ({"type": "say", "prompt": "Hi.", "next": "su"}, "support", '"next": "support"'),
        (
            {"type": "menu", "timeout": "bye", "invalid": "bye", "options": {"1": "gr"}},
            "greeting",
            '"1": "greeting"',
        ),
        ({"type": "goto", "flow": "sa"}, "sales", '"flow": "sales"'),
        ({"type": "enqueue", "desk": "lo"}, "local", '"desk": "local"'),
        ({"type": "hours", "open": "bye", "schedule": "sup"}, "support_hours", '"schedule": "support_hours"'),
        ({"type": "route", "desk": "local", "else": "b"}, "bpo", '"else": "bpo"'),
        ({"type": "menu", "input": "dt"}, "dtmf speech", '"input": "dtmf speech"'),
    ],
    ids=["node name", "menu option", "flow name", "desk name", "schedule name", "route else: a desk", "enum"],
)
def test_names_complete_where_a_field_names_a_node_flow_desk_or_schedule(
    open_editor: Open, node: dict[str, Any], offered: str, completed: str
) -> None:
    page = open_editor().page
    replace_text(page, with_orphan(node))
    page.wait_for_timeout(300)  # the schema and the names have loaded by then (a few ms, locally)
    typed = list(node.values())[-1]
    typed = json.dumps(typed if isinstance(typed, str) else list(typed.values())[-1])
    options = complete_at(page, typed)
    expect(options.filter(has_text=offered).first).to_be_visible()
    if offered == "bpo":
        assert options.locator(".cm-completionLabel").all_inner_texts() == ["bpo"]  # no node names
    options.filter(has_text=offered).first.click()
    assert completed in page.locator("#source").input_value()


def test_node_types_complete_from_the_schema(open_editor: Open) -> None:
    page = open_editor().page
    replace_text(page, with_orphan({"type": ""}))
    page.wait_for_timeout(300)
    labels = complete_at(page, '""').all_inner_texts()
    assert {"say", "menu", "gather", "route", "goto", "hangup"} <= {label.strip() for label in labels}


LINKS = [
    ("menu", "invalid", '"invalid": "bye"'),
    ("menu", "options.2.next", '"next": "support",'),
    ("menu", "options.2.speech[0]", '"support"'),
    ("support", None, '"support": {'),
    (None, "start", '"start": "greeting",'),
    ("nowhere", None, '"nodes": {'),  # an unknown node: as near as the text allows
    (None, None, '"greeting": {'),  # the message's "line 5 column 5"
]


@pytest.mark.parametrize(("node", "field", "line"), LINKS)
def test_a_server_rendered_problem_link_puts_the_cursor_on_its_field(
    open_editor: Open, node: str | None, field: str | None, line: str
) -> None:
    message = "invalid JSON: Expecting ',' delimiter at line 5 column 5"
    page = open_editor(Site(problems_html=problem_item(node, field, message))).page
    page.locator("#problems a").click()
    expect(page.locator(".cm-activeLine")).to_have_text(line, use_inner_text=True)
    assert cursor_line(page) == line
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")


def test_checks_after_typing_rerender_the_problems_with_working_links(open_editor: Open) -> None:
    answer = {
        "problems": [
            problem("main.json", "menu", "invalid", "target node 'byee' does not exist"),
            problem("main.json", "orphan", None, "node is unreachable", "warning"),
            problem("site.json", None, "fallback.desk", "unknown desk"),
        ]
    }
    opened = open_editor(Site(problems_html=problem_item("greeting", None, "stale"), check_answers=[answer]))
    page, site = opened.page, opened.site
    broken = TEXT.replace('"invalid": "bye"', '"invalid": "byee"')
    replace_text(page, broken)
    items = page.locator("#problems li")
    expect(items).to_have_count(3)
    # once, after typing stopped
    assert site.posts["/flows/check"] == [{"document": "main.json", "text": broken}]
    severities = ["problem error", "problem warning", "problem error"]
    assert items.evaluate_all("els => els.map(e => e.className)") == severities
    assert items.nth(2).inner_text().startswith("site.json: field fallback.desk: unknown desk")
    assert items.nth(2).locator("a").get_attribute("href") == "/flows/edit/site.json"  # its own editor
    assert items.nth(1).inner_text() == "node orphan: node is unreachable (warning)"
    assert all(headers.get("x-csrftoken") == CSRF for headers in site.headers)
    page.locator("#problems a[data-node=orphan]").click()
    assert cursor_line(page) == '"orphan": {'
    page.locator("#problems a[data-node=menu]").click()
    assert cursor_line(page) == '"invalid": "byee"'


def classes_of(page: Page, node: str) -> list[str]:
    """The classes of a node drawn in the graph."""
    return (page.locator(f'#graph [data-node="{node}"]').get_attribute("class") or "").split()


def node_ids(page: Page) -> list[str]:
    """The data-node of every node drawn in the graph, in drawing order."""
    return list(page.locator("#graph g[data-node]").evaluate_all("els => els.map(e => e.dataset.node)"))


def test_the_graph_draws_every_node_with_labelled_edges_and_marks(open_editor: Open) -> None:
    opened = open_editor(Site(problem_nodes=["support"], warning_nodes=["orphan"]))
    page = opened.page
    expect(page.locator("#graph svg g[data-node]")).to_have_count(len(FLOW["nodes"]))
    assert sorted(node_ids(page)) == sorted(FLOW["nodes"])
    assert page.locator('#graph [data-node="menu"]').get_attribute("class") == "node type-menu"
    assert "start" in classes_of(page, "greeting")
    assert "unreachable" in classes_of(page, "orphan") and "unreachable" not in classes_of(page, "bye")
    assert "problem" in classes_of(page, "support") and "problem" not in classes_of(page, "menu")
    assert "warning" in classes_of(page, "orphan") and "warning" not in classes_of(page, "support")
    # each box names its node, its type and what it says
    greeting = page.locator('#graph [data-node="greeting"] text').all_text_contents()
    assert greeting == ["greeting", "say", "Hello."]
    labels = page.locator("#graph g.edge text").all_text_contents()
    assert sorted(labels) == sorted(["next", "next", "timeout", "invalid", "1", "2", "goto"])
    expect(page.locator('#graph [data-goto="billing"]')).to_have_count(1)
    # every node is inside the drawing, none on top of another
    boxes = [page.locator(f'#graph [data-node="{name}"] rect').bounding_box() for name in FLOW["nodes"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a and b
            apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            assert apart or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]


def test_the_graph_is_redrawn_as_the_json_changes(open_editor: Open) -> None:
    page = open_editor().page
    expect(page.locator("#graph g[data-node]")).to_have_count(len(FLOW["nodes"]))
    more = json.loads(TEXT)
    more["nodes"]["survey"] = {"type": "hangup"}
    more["nodes"]["bye"] = {"type": "say", "prompt": "Bye.", "next": "survey"}
    replace_text(page, json.dumps(more, indent=2))
    expect(page.locator('#graph g[data-node="survey"]')).to_have_count(1)
    assert "unreachable" not in classes_of(page, "survey")


def test_clicking_a_node_moves_the_cursor_to_it(open_editor: Open) -> None:
    page = open_editor().page
    page.locator('#graph [data-node="support"]').click()
    assert cursor_line(page) == '"support": {'
    page.locator('#graph [data-node="orphan"]').focus()
    page.keyboard.press("Enter")
    assert cursor_line(page) == '"orphan": {'


def test_the_try_panel_calls_presses_a_key_and_lights_the_path(open_editor: Open) -> None:
    opened = open_editor()
    page, site = opened.page, opened.site
    panel = page.locator("#try")
    keypad = panel.get_by_role("group", name="Keypad")
    expect(keypad.get_by_role("button", name="2")).to_be_disabled()  # no call yet
    panel.get_by_label("Caller number").fill("+15125550199")
    panel.get_by_label("Time of day (site time; empty: now)").fill("2026-12-07T10:30")
    panel.get_by_role("button", name="Call").click()
    expect(panel.locator(".try-events li")).to_have_count(3)
    expect(panel.locator(".try-status")).to_have_text("Waiting for key presses or a spoken answer.")
    asked = {"document": "main.json", "text": TEXT, "from": "+15125550199", "at": "2026-12-07T10:30"}
    assert site.posts["/flows/try"] == [{**asked, "inputs": []}]
    visited = "#graph g[data-node].visited"
    expect(page.locator(visited)).to_have_count(2)
    keypad.get_by_role("button", name="2").click()
    expect(panel.locator(".try-events li")).to_have_count(6)
    assert site.posts["/flows/try"][-1]["inputs"] == [{"digits": "2"}]
    expect(panel.locator(".try-events")).to_contain_text("Support is closed today.")
    expect(panel.locator(".try-status")).to_have_text("The call has ended.")
    lit = page.locator("#graph g.visited").evaluate_all(
        "els => els.map(e => e.dataset.node || e.dataset.from + '>' + e.dataset.to)"
    )
    assert sorted(lit) == sorted(
        ["greeting", "menu", "support", "bye", "greeting>menu", "menu>support", "support>bye"]
    )
    assert "current" in classes_of(page, "bye")
    expect(keypad.get_by_role("button", name="1")).to_be_disabled()  # the call has ended


def test_the_try_panel_sends_a_spoken_answer(open_editor: Open) -> None:
    opened = open_editor()
    page, site = opened.page, opened.site
    panel = page.locator("#try")
    panel.get_by_role("button", name="Call").click()
    expect(panel.locator(".try-events li")).to_have_count(3)
    panel.get_by_label("Caller number").press("Enter")
    panel.get_by_label("Spoken answer").fill("support please")
    panel.get_by_label("Spoken answer").press("Enter")
    expect(panel.locator(".try-events li")).to_have_count(6)
    assert site.posts["/flows/try"][-1]["inputs"] == [{"speech": "support please"}]
    assert site.forms == []  # the panel sits in the draft's form, which Enter in it never submits


def test_the_changes_toggle_shows_the_draft_against_the_published_text(open_editor: Open) -> None:
    page = open_editor().page
    toggle = page.get_by_role("button", name="Changes")
    expect(page.locator(".cm-deletedChunk")).to_have_count(0)
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    deleted = page.locator(".cm-deletedChunk")
    expect(deleted.first).to_be_visible()
    assert "Support is open." in " ".join(deleted.all_inner_texts())
    assert '"spare"' in " ".join(deleted.all_inner_texts())
    expect(page.locator(".cm-changedLine").first).to_be_visible()
    expect(page.locator(".changes-summary")).to_have_text("2 changes from the published version")
    toggle.click()
    expect(page.locator(".cm-deletedChunk")).to_have_count(0)
    expect(page.locator(".changes-summary")).to_have_text("")
    replace_text(page, PUBLISHED)
    toggle.click()
    expect(page.locator(".changes-summary")).to_have_text("No changes from the published version")
    expect(page.locator(".cm-deletedChunk")).to_have_count(0)


def at_the_gather(request: dict[str, Any]) -> dict[str, Any]:
    """A try that reaches a gather (an account number) and waits for its digits, then ends."""
    path = [{"flow": "main", "node": "greeting"}, {"flow": "main", "node": "account"}]
    if request["inputs"]:
        done = {"who": "caller", "what": f"pressed {request['inputs'][-1]['digits']}", "kind": "input"}
        return {"events": [say("Hello."), done], "path": path, "waiting": None, "ended": True, "problems": []}
    return {"events": [say("Hello.")], "path": path, "waiting": "digits", "ended": False, "problems": []}


def test_the_keypad_collects_a_gathers_digits_until_the_pound_key(open_editor: Open) -> None:
    opened = open_editor(Site(tries=at_the_gather))
    page, site = opened.page, opened.site
    replace_text(page, json.dumps(json.loads(TEXT) | {"nodes": {**FLOW["nodes"], **ACCOUNT}}, indent=2))
    panel = page.locator("#try")
    panel.get_by_role("button", name="Call").click()
    keypad = panel.get_by_role("group", name="Keypad")
    for key in "1234":
        keypad.get_by_role("button", name=key).click()
    expect(panel.locator(".try-typed")).to_have_text("Typed: 1234")
    assert len(site.posts["/flows/try"]) == 1  # nothing sent while the caller types
    keypad.get_by_role("button", name="#").click()
    expect(panel.locator(".try-status")).to_have_text("The call has ended.")
    assert site.posts["/flows/try"][-1]["inputs"] == [{"digits": "1234"}]


ACCOUNT = {
    "account": {
        "type": "gather",
        "prompt": "Your account number?",
        "variable": "account",
        "next": "bye",
        "timeout": "bye",
        "invalid": "bye",
    }
}

SPEECH_RECORDER = """
window.spoken = [];
Object.defineProperty(window, "speechSynthesis", {
  value: { speak: (utterance) => window.spoken.push([utterance.lang, utterance.text]), cancel: () => {} },
});
"""


def _calling_aloud(page: Page) -> Locator:
    """Record what the page would say, switch reading aloud on and place the call; the Try panel."""
    page.add_init_script(SPEECH_RECORDER)
    page.reload()
    panel = page.locator("#try")
    panel.get_by_label("Read prompts aloud").check()
    panel.get_by_role("button", name="Call").click()
    expect(panel.locator(".try-events li")).to_have_count(3)
    return panel


def test_prompts_are_read_aloud_when_switched_on(open_editor: Open) -> None:
    page = open_editor().page
    panel = _calling_aloud(page)
    panel.get_by_role("group", name="Keypad").get_by_role("button", name="2").click()
    expect(panel.locator(".try-events li")).to_have_count(6)
    # each prompt once, in order, and only the IVR's words
    assert page.evaluate("window.spoken") == [
        ["", "Hello."],
        ["", "For billing press 1, for support press 2."],
        ["", "Support is closed today."],
    ]


def test_a_prompt_is_read_in_its_language_and_warnings_do_not_stop_a_try(open_editor: Open) -> None:
    warned = {
        **GREETED,
        "events": [{**say("Hola."), "language": "es-MX"}, *GREETED["events"][1:]],
        "problems": [problem("main.json", "orphan", None, "unreachable", "warning")],
    }
    page = open_editor(Site(tries=lambda request: warned)).page
    panel = _calling_aloud(page)
    expect(panel.locator(".try-status")).to_have_text("Waiting for key presses or a spoken answer.")
    expect(panel.locator(".try-problems li.warning")).to_have_count(1)
    assert page.evaluate("window.spoken")[0] == ["es-MX", "Hola."]


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_reaches_past_the_window(open_editor: Open, width: int) -> None:
    page = open_editor(width=width).page
    expect(page.locator("#graph g[data-node]")).to_have_count(len(FLOW["nodes"]))
    page.locator("#try").get_by_role("button", name="Call").click()
    expect(page.locator("#try .try-events li")).to_have_count(3)
    assert too_wide(page) == []


def test_the_graph_shows_a_missing_target_and_keeps_its_drawing_while_the_json_does_not_parse(
    open_editor: Open,
) -> None:
    page = open_editor().page
    replace_text(page, TEXT.replace('"invalid": "bye"', '"invalid": "byee"'))
    missing = page.locator('#graph [data-missing="byee"]')
    expect(missing).to_have_count(1)
    edge = page.locator('#graph g.edge[data-to="byee"]')
    assert edge.locator("text").all_text_contents() == ["invalid"]
    replace_text(page, TEXT[:40])  # half a document
    expect(page.locator("#graph .graph-note")).to_contain_text("invalid JSON")
    expect(page.locator("#graph g[data-node]")).to_have_count(len(FLOW["nodes"]))  # the last drawing
    replace_text(page, TEXT)
    expect(page.locator("#graph .graph-note")).to_be_hidden()
    expect(missing).to_have_count(0)


def test_the_caller_can_say_nothing(open_editor: Open) -> None:
    opened = open_editor()
    page, site = opened.page, opened.site
    panel = page.locator("#try")
    silence = panel.get_by_role("button", name="Say nothing")
    expect(silence).to_be_disabled()
    panel.get_by_role("button", name="Call").click()
    expect(panel.locator(".try-events li")).to_have_count(3)
    silence.click()
    expect(panel.locator(".try-events li")).to_have_count(6)
    assert site.posts["/flows/try"][-1]["inputs"] == [{"silence": True}]


def test_the_site_document_is_checked_against_the_site_schema_and_draws_no_graph(open_editor: Open) -> None:
    answer = {"problems": [problem("site.json", None, "colour", "the site has no setting 'colour'")]}
    opened = open_editor(Site(check_answers=[answer]), address="/flows/edit/site.json")
    page, site = opened.page, opened.site
    page.wait_for_timeout(800)  # the schema has loaded, the first checks have run
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)  # fallback.dial: a reference to another file
    assert "/flows/graph" not in site.posts
    expect(page.locator("#graph svg")).to_have_count(0)
    replace_text(
        page,
        SITE_TEXT.replace('"timezone": "America/Chicago"', '"timezone": "America/Chicago", "colour": 1', 1),
    )
    expect(page.locator(".cm-lintRange-error").first).to_be_visible()
    page.locator(".cm-content").press("Control+Shift+M")
    expect(page.locator(".cm-panel-lint")).to_contain_text("colour")
    expect(page.locator('#problems a[data-field="colour"]')).to_have_count(1)
    assert site.posts["/flows/check"][-1]["document"] == "site.json"
    assert "/flows/graph" not in site.posts
    page.locator('#problems a[data-field="colour"]').click()
    assert cursor_line(page).startswith('"timezone": "America/Chicago", "colour": 1')


def test_endpoints_that_fail_are_said_so_and_nothing_breaks(open_editor: Open) -> None:
    broken = {
        "/flows/check": (200, "text/html", "<!doctype html><title>Sign in</title>"),  # signed out meanwhile
        "/flows/graph": (
            400,
            JSON_TYPE,
            json.dumps({"error": "text: the document's JSON text, as a string"}),
        ),
        "/flows/try": (400, JSON_TYPE, json.dumps({"error": "at: choose a year from 2000 to 2100"})),
    }
    opened = open_editor(Site(broken=broken))
    page = opened.page
    expect(page.locator("#graph .graph-note")).to_have_text(
        "The graph could not be drawn: text: the document's JSON text, as a string"
    )
    replace_text(page, TEXT.replace("Hello.", "Hi."))
    expect(page.locator(".check-note")).to_contain_text(
        "The checks could not run: the server's answer is not JSON"
    )
    page.locator("#try").get_by_role("button", name="Call").click()
    expect(page.locator("#try .try-status")).to_have_text(
        "The try failed: at: choose a year from 2000 to 2100"
    )
    assert page.locator("#source").input_value() == TEXT.replace("Hello.", "Hi.")  # the text is safe
    # Chromium logs each 400 answer; nothing else went wrong
    opened.errors[:] = [error for error in opened.errors if "status of 400" not in error]
