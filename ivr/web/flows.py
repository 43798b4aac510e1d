"""The supervisors' workspace (docs/flows.md, "The workspace in the browser"): documents, drafts, validate,
publish with a note, history, diffs, rollback; each form works without JavaScript (the editor script adds)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from ..accounts.access import current_actor, current_owner, requires
from ..accounts.roles import allows
from ..bounds import loads_json, whole
from ..db import session
from ..engine import Problem, load_documents
from ..engine.loader import SITE_FILE, is_document_name
from ..extensions import allow_larger_bodies, clock
from ..flows.diffs import document_diffs
from ..flows.drafts import discard_draft, drafts_of, save_draft
from ..flows.history import history, newest_texts, version_texts
from ..flows.publishing import PublishRefused, publish_drafts, publish_texts, rollback
from ..flows.workspace import FLOWS_REQUEST_BYTES, is_stale, why_not_delete, workspace_texts
from ..models import FlowDraft

bp = Blueprint("flows", __name__, url_prefix="/flows")
FLOW_NAME = re.compile(r"[a-z][a-z0-9_]{0,60}")
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
VIEWS = ("split", "unified")
EDITOR_CSS = Path(__file__).resolve().parent / "static" / "build" / "editor.css"
# Served by the "try it" feature (ivr/web/trial.py), the editor's script posts to them.
GRAPH_PATH, TRY_PATH = "/flows/graph", "/flows/try"

allow_larger_bodies(bp, FLOWS_REQUEST_BYTES)


def _document(name: str) -> str:
    """The document's file name, or 404 for anything that is not one."""
    if not is_document_name(name):
        abort(404)
    return name


def _kind(document: str) -> str:
    return "site" if document == SITE_FILE else "flow"


def _ordered(documents: Iterable[str]) -> list[str]:
    """The site first, then the flows by name."""
    return sorted(set(documents), key=lambda name: (name != SITE_FILE, name))


def problems_with(s: Session, document: str, text: str | None) -> list[Problem]:
    """Every problem of what Publish on the editor page publishes: the newest version with this text of
    `document` (your other drafts are checked by "Publish all my drafts" on the list page)."""
    _bundle, problems = load_documents(workspace_texts(s, {document: text}))
    return problems


def in_shown_order(problems: Iterable[Problem], document: str) -> list[Problem]:
    """This document's problems first, errors before warnings (the page and the check endpoint alike)."""
    return sorted(problems, key=lambda p: (p.file != document, not p.is_error))


def _may_edit() -> bool:
    return bool(current_user.is_authenticated and allows(current_user.role, "edit_flows"))


@bp.get("/")
@requires("view_flows")
def index() -> str:
    """The site and every flow with the newest version, your drafts and which of them went stale."""
    s = session()
    newest, texts = newest_texts(s)
    drafts = drafts_of(s, current_owner()) if _may_edit() else {}
    rows = [_row(s, name, texts, drafts.get(name)) for name in _ordered([*texts, *drafts])]
    info = history(s, limit=1)
    return render_template(
        "flows.html", rows=rows, newest=newest, latest=info[0] if info else None, editable=_may_edit()
    )


def _row(s: Session, name: str, texts: Mapping[str, str], draft: FlowDraft | None) -> dict[str, Any]:
    """One line of the documents list: what is published, your draft, and whether it changed under you."""
    stale = False
    if draft is not None:
        stale = is_stale(s, draft, texts)
    return {"document": name, "kind": _kind(name), "published": name in texts, "draft": draft, "stale": stale}


@bp.post("/new")
@requires("edit_flows")
def new_flow() -> BaseResponse:
    """Start a new flow as a draft (a greeting and a hang-up), then open it in the editor."""
    name = request.form.get("name", "").strip()
    if not FLOW_NAME.fullmatch(name):
        flash("A flow name is lower-case letters, digits and _ (starting with a letter), e.g. billing_line.")
        return redirect(url_for("web.flows.index"))
    s = session()
    document = f"{name}.json"
    newest, texts = newest_texts(s)
    if document in texts or document in drafts_of(s, current_owner()):
        flash(f"{document} already exists: open it from the list.")
        return redirect(url_for("web.flows.index"))
    save_draft(s, current_owner(), document, _skeleton(name), newest, clock())
    s.commit()
    return redirect(url_for("web.flows.edit", document=document))


def _skeleton(name: str) -> str:
    """A new flow's first text: valid, short, and showing the shape of a node."""
    flow = {
        "$schema": "../ivr/schemas/flow.schema.json",
        "name": name,
        "start": "hello",
        "nodes": {
            "hello": {"type": "say", "prompt": "Hello.", "next": "goodbye"},
            "goodbye": {"type": "hangup"},
        },
    }
    return json.dumps(flow, indent=2, ensure_ascii=False) + "\n"


@bp.get("/edit/<document>")
@requires("edit_flows")
def edit(document: str) -> Any:
    """The editor: your draft (or the published text) with its problems, save, validate and publish."""
    s = session()
    document = _document(document)
    newest, texts = newest_texts(s)
    draft = drafts_of(s, current_owner()).get(document)
    if draft is None and document not in texts:
        abort(404)
    text = draft.text if draft is not None else texts[document]
    base = draft.based_on if draft is not None else newest
    problems = problems_with(s, document, text) if draft is not None else []
    return _editor(document, text or "", base, draft, problems, checked=draft is not None)


def _editor(
    document: str,
    text: str | None,
    base: int | None,
    draft: FlowDraft | None,
    problems: list[Problem],
    *,
    checked: bool,
    note: str = "",
    status: int = 200,
    message: str = "",
) -> Any:
    """The editor page (status 422 when a publish was refused for problems)."""
    s = session()
    newest, texts = newest_texts(s)
    stale = draft is not None and is_stale(s, draft, texts)
    body = render_template(
        "flow_edit.html",
        document=document,
        kind=_kind(document),
        text=text or "",
        base=base,
        newest=newest,
        draft=draft,
        stale=stale,
        removed=draft is not None and draft.text is None,
        problems=in_shown_order(problems, document),
        errors=sum(1 for p in problems if p.is_error),
        checked=checked,
        note=note,
        message=message,
        published=document in texts,
        published_text=texts.get(document, ""),
        editor_css=EDITOR_CSS.exists(),
        graph_url=request.script_root + GRAPH_PATH,
        try_url=request.script_root + TRY_PATH,
    )
    return (body, status) if status != 200 else body


def _base(form_value: str | None, draft: FlowDraft | None, newest: int | None) -> int | None:
    """The version the text started from: the form's (what the person saw), else the draft's, else newest."""
    number = whole(form_value, least=1)
    if number is not None:
        return number
    return draft.based_on if draft is not None else newest


@bp.post("/edit/<document>")
@requires("edit_flows")
def change(document: str) -> Any:
    """save (keep a draft), validate (keep it and list every problem) or publish (with a note)."""
    s = session()
    document = _document(document)
    action = request.form.get("action", "save")
    if action not in ("save", "validate", "publish"):
        abort(400, f"unknown action {action!r}: save, validate or publish")
    posted = request.form.get("text", "").replace("\r\n", "\n")  # browsers post CRLF line ends
    owner, now = current_owner(), clock()
    newest, _texts = newest_texts(s)
    draft = drafts_of(s, owner).get(document)
    removing = draft is not None and draft.text is None and not posted.strip()
    text: str | None = None if removing else posted  # a delete draft stays one until text is typed
    base = _base(request.form.get("based_on"), draft, newest)
    draft = save_draft(s, owner, document, text, base, now)
    s.commit()
    if action == "save":
        flash(f"Draft of {document} saved.")
        return redirect(url_for("web.flows.edit", document=document))
    problems = problems_with(s, document, text)
    if action == "validate":
        return _editor(document, text, base, draft, problems, checked=True)
    note = request.form.get("note", "").strip()
    if not note:
        return _editor(
            document, text, base, draft, problems, checked=True, status=422,
            message="Say in a note what this change is for: publishing needs one.",
        )  # fmt: skip
    return _publish_one(s, document, draft, text, note)


def _publish_one(s: Session, document: str, draft: FlowDraft, text: str | None, note: str) -> Any:
    """Publish this document's draft over the newest version; the draft goes when it is published."""
    owner = current_owner()
    try:
        version = publish_texts(
            s,
            {document: text},
            note=note,
            actor=current_actor(),
            now=clock(),
            source="browser",
            based_on=draft.based_on,
            changed=[document],
        )
    except PublishRefused as refused:
        s.rollback()
        return _refused(refused, document, draft, text, note)
    discard_draft(s, owner, document)
    s.commit()
    flash(f"Published version {version.id}: {version.summary or note}")
    return redirect(url_for("web.flows.history_page"))


def _refused(refused: PublishRefused, document: str, draft: FlowDraft, text: str | None, note: str) -> Any:
    """A refused publish: the conflict page (409) with what changed meanwhile, or the problems (422)."""
    if refused.conflicts:
        return render_template("flow_conflict.html", refused=refused, document=document, note=note), 409
    return _editor(
        document, text, draft.based_on, draft, refused.problems, checked=True, note=note, status=422,
        message=str(refused.message),
    )  # fmt: skip


@bp.post("/delete/<document>")
@requires("edit_flows")
def delete(document: str) -> BaseResponse:
    """Start deleting a flow: a draft that removes it, published with a note like any change; refused for
    the site file, the default flow and a flow other flows go to."""
    s = session()
    document = _document(document)
    newest, texts = newest_texts(s)
    if document not in texts:
        abort(404)
    reason = why_not_delete(texts, document)
    if reason is not None:
        flash(f"{document} is not deleted: {reason}.")
        return redirect(url_for("web.flows.edit", document=document))
    draft = drafts_of(s, current_owner()).get(document)
    message = (
        f"Your draft deletes {document}: publish it with a note to delete it for callers, or discard it."
    )
    return _keep(s, document, None, draft.based_on if draft else newest, message)


def _keep(s: Session, document: str, text: str | None, based_on: int | None, message: str) -> BaseResponse:
    """Save your draft of `document`, say so, and go back to the editor."""
    save_draft(s, current_owner(), document, text, based_on, clock())
    s.commit()
    flash(message)
    return redirect(url_for("web.flows.edit", document=document))


@bp.post("/rebase/<document>")
@requires("edit_flows")
def rebase(document: str) -> BaseResponse:
    """After reading what changed meanwhile: keep your text, based on that version now (never silently)."""
    s = session()
    document = _document(document)
    draft = drafts_of(s, current_owner()).get(document)
    version = request.form.get("version", "")
    based_on = whole(version, least=1)
    if draft is None or based_on is None:
        abort(404)
    message = (
        f"Your draft of {document} is now based on version {version}: publishing it replaces that version's."
    )
    return _keep(s, document, draft.text, based_on, message)


@bp.post("/discard/<document>")
@requires("edit_flows")
def discard(document: str) -> BaseResponse:
    """Throw your draft of a document away (the published text stays)."""
    s = session()
    document = _document(document)
    discard_draft(s, current_owner(), document)
    s.commit()
    flash(f"Your draft of {document} is discarded.")
    return redirect(url_for("web.flows.index"))


@bp.post("/publish")
@requires("edit_flows")
def publish_all() -> Any:
    """Publish every draft of yours at once, with a note."""
    s = session()
    note = request.form.get("note", "").strip()
    if not note:
        flash("Say in a note what this change is for: publishing needs one.")
        return redirect(url_for("web.flows.index"))
    try:
        version = publish_drafts(
            s, current_owner(), note=note, actor=current_actor(), now=clock(), source="browser"
        )
    except PublishRefused as refused:
        s.rollback()
        if refused.conflicts:
            return render_template("flow_conflict.html", refused=refused, document=None, note=note), 409
        flash(str(refused.message))
        for problem in refused.problems:
            flash(str(problem))
        return redirect(url_for("web.flows.index"))
    s.commit()
    flash(f"Published version {version.id}: {version.summary or note}")
    return redirect(url_for("web.flows.history_page"))


@bp.post("/check/<document>")
@requires("edit_flows")
def check(document: str) -> Response:
    """For the editor's script: the problems of {text} for this document, over your drafts and the newest."""
    document = _document(document)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        abort(400, 'send {"text": "..."} as JSON')
    problems = problems_with(session(), document, body["text"])
    return jsonify(problems=[p.as_dict() for p in in_shown_order(problems, document)])


@bp.get("/schema/<kind>.json")
@requires("view_flows")
def schema(kind: str) -> Response:
    """The JSON Schema of a flow file or of the site file, for the editor's validation and completion."""
    if kind not in ("flow", "site"):
        abort(404)
    text = (SCHEMAS / f"{kind}.schema.json").read_bytes()  # small; read whole so no file stays open
    return Response(text, mimetype="application/schema+json")


@bp.get("/names")
@requires("view_flows")
def names() -> Response:
    """For completion in the editor: the flow names (goto), desks and schedules, your drafts included."""
    s = session()
    texts = workspace_texts(s, drafts_of_owner=current_owner() if _may_edit() else None)
    flows, site = [], {}
    for name, text in texts.items():
        try:
            data = loads_json(text)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if name == SITE_FILE:
            site = data
        elif isinstance(data.get("name"), str):
            flows.append(data["name"])
    return jsonify(
        flows=sorted(flows),
        desks=sorted(site.get("desks", {}) if isinstance(site.get("desks"), dict) else []),
        schedules=sorted(site.get("schedules", {}) if isinstance(site.get("schedules"), dict) else []),
    )


@bp.get("/history")
@requires("view_flows")
def history_page() -> str:
    """Every version: number, who, when, note, calls started on it, what changed; roll back for editors."""
    versions = history(session())
    return render_template("flow_history.html", versions=versions, editable=_may_edit())


@bp.post("/rollback")
@requires("edit_flows")
def roll_back() -> BaseResponse:
    """Publish an old version again as a new one, with a note."""
    s = session()
    version = request.form.get("version", "")
    note = request.form.get("note", "").strip()
    number = whole(version)
    if number is None:
        abort(400, "choose the version to roll back to")
    if not note:
        flash("Say in a note why you roll back: it needs one.")
        return redirect(url_for("web.flows.history_page"))
    try:
        created = rollback(s, number, note=note, actor=current_actor(), now=clock())
    except LookupError:
        abort(404, f"there is no version {version}")
    except PublishRefused as refused:
        s.rollback()
        flash(str(refused.message))
        return redirect(url_for("web.flows.history_page"))
    s.commit()
    flash(f"Rolled back: version {created.id} has the content of version {version}.")
    return redirect(url_for("web.flows.history_page"))


def _version_arg(name: str) -> int:
    number = whole(request.args.get(name))
    if number is None:
        abort(400, f"{name}: give a version number")
    return number


@bp.get("/diff")
@requires("view_flows")
def diff() -> str:
    """What differs between versions a and b, per document, side by side or unified."""
    s = session()
    a, b = _version_arg("a"), _version_arg("b")
    view = request.args.get("view", "split")
    if view not in VIEWS:
        abort(400, "view: split or unified")
    document = request.args.get("document") or None
    try:
        old, new = version_texts(s, a), version_texts(s, b)
    except LookupError as exc:
        abort(404, str(exc))
    diffs = document_diffs(old, new)
    if document is not None:
        diffs = [d for d in diffs if d.document == document]
    shown = [d for d in diffs if d.status != "same" or document is not None]
    names = _ordered([*old, *new])
    return render_template(
        "flow_diff.html", a=a, b=b, view=view, document=document, diffs=shown, names=names,
        versions=[v.id for v in history(s)],
    )  # fmt: skip


@bp.get("/versions/<int:version>/<document>")
@requires("view_flows")
def version_view(version: int, document: str) -> str:
    """One document as a version published it, read-only."""
    document = _document(document)
    try:
        texts = version_texts(session(), version)
    except LookupError:
        abort(404, f"there is no version {version}")
    if document not in texts:
        abort(404, f"version {version} has no {document}")
    return render_template(
        "flow_version.html", version=version, document=document, text=texts[document],
        names=_ordered(texts), editable=_may_edit(),
    )  # fmt: skip
