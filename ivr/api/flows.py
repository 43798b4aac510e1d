"""The flows API (docs/api.md, "Flows"): versions, drafts per token, validate, publish (409 with what
changed meanwhile, 422 with every problem), history, diffs, rollback; view_flows reads, edit_flows edits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.orm import Session

from ..accounts.access import current_actor, current_owner, requires
from ..bounds import in_range, whole
from ..db import session
from ..engine import load_documents
from ..engine.loader import SITE_FILE, is_document_name
from ..extensions import allow_larger_bodies, clock
from ..flows.diffs import DocumentDiff, document_diffs
from ..flows.drafts import discard_draft, drafts_of, save_draft
from ..flows.history import VersionInfo, history, newest_texts, newest_version_id, version_texts
from ..flows.publishing import Conflict, PublishRefused, publish_drafts, publish_texts, rollback
from ..flows.workspace import FLOWS_REQUEST_BYTES, is_stale, workspace_texts
from ..models import FlowDraft, SiteVersion
from . import bodies
from .errors import error_response
from .params import query_parameters

bp = Blueprint("flows", __name__)

allow_larger_bodies(bp, FLOWS_REQUEST_BYTES)

MAX_NOTE = 2000


def _document(name: str) -> str:
    """A document's file name (site.json or a flow file), else 404."""
    if not is_document_name(name):
        abort(404, f"{name!r} is not a document: site.json or a flow file such as main.json")
    return name


def _whole(name: str, value: object) -> int:
    """A positive whole number from a query parameter or a body field, else 400."""
    number = whole(value, least=1) if isinstance(value, str) else value
    if not in_range(number, least=1):
        abort(400, f"{name}: give a version number")
    return cast(int, number)


def _note(body: Mapping[str, Any]) -> str:
    """The body's note, required (publishing and rolling back say why)."""
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        abort(400, "note: say what this change is for (required)")
    if len(note) > MAX_NOTE:
        abort(400, f"note: at most {MAX_NOTE} characters")
    return note.strip()


def _texts(s: Session, version: int) -> dict[str, str]:
    try:
        return version_texts(s, version)
    except LookupError:
        abort(404, f"there is no version {version}")


def _based_on(s: Session, body: Mapping[str, Any]) -> int | None:
    """The body's based_on, required: the version the text was edited from (null: nothing was published),
    so a change published meanwhile is a conflict, never silently overwritten; 400 without it, 404 unknown."""
    if "based_on" not in body:
        abort(400, "based_on: the version your text was edited from (null when nothing was published yet)")
    if body["based_on"] is None:
        return None
    based_on = _whole("based_on", body["based_on"])
    _texts(s, based_on)
    return based_on


def version_dict(v: VersionInfo) -> dict[str, Any]:
    """A version as the API shows it."""
    return {
        "id": v.id,
        "published_at": v.published_at.isoformat(),
        "published_by": v.published_by,
        "note": v.note,
        "summary": v.summary,
        "source": v.source,
        "calls_started": v.calls_started,
        "based_on": v.based_on,
        "rolled_back_from": v.rolled_back_from,
    }


def _created(s: Session, row: SiteVersion) -> dict[str, Any]:
    """A version just published, as the history shows it."""
    found = next((v for v in history(s, limit=5) if v.id == row.id), None)
    if found is None:  # pragma: no cover - the row was just added in this session
        abort(500)
    return version_dict(found)


def draft_dict(s: Session, draft: FlowDraft, newest: Mapping[str, str]) -> dict[str, Any]:
    """A draft with whether the published text changed since it started (stale)."""
    return {
        "document": draft.document,
        "text": draft.text,
        "based_on": draft.based_on,
        "updated_at": draft.updated_at.isoformat(),
        "stale": is_stale(s, draft, newest),
    }


def diff_dict(d: DocumentDiff) -> dict[str, Any]:
    """One document's diff: its status and the unified text (empty when the same)."""
    return {"document": d.document, "status": d.status, "unified": d.unified() if d.status != "same" else ""}


def conflict_dict(c: Conflict) -> dict[str, Any]:
    """A conflict: the document, the version that changed it meanwhile, and what changed (unified)."""
    return {"document": c.document, "current_version": c.current_version, "diff": c.diff.unified()}


def _refused(refused: PublishRefused) -> tuple[Response, int]:
    """409 with the conflicts, 422 with the problems, or 409 when there is nothing to publish."""
    if refused.conflicts:
        conflicts = [conflict_dict(c) for c in refused.conflicts]
        return error_response(409, str(refused.message), conflicts=conflicts), 409
    if refused.problems:
        problems = [p.as_dict() for p in refused.problems]
        return error_response(422, str(refused.message), problems=problems), 422
    return error_response(409, str(refused.message)), 409


@bp.get("/flows")
@requires("view_flows")
@query_parameters()
def index() -> Response:
    """The newest version and its documents."""
    s = session()
    newest = history(s, limit=1)
    texts = version_texts(s, newest[0].id) if newest else {}
    documents = [
        {
            "document": name,
            "kind": "site" if name == SITE_FILE else "flow",
            "bytes": len(text.encode("utf-8")),
        }
        for name, text in sorted(texts.items(), key=lambda item: (item[0] != SITE_FILE, item[0]))
    ]
    return jsonify(version=version_dict(newest[0]) if newest else None, documents=documents)


@bp.get("/flows/drafts")
@requires("edit_flows")
@query_parameters()
def drafts() -> Response:
    """This token's drafts, each with whether the published text changed since it started."""
    s = session()
    _, newest = newest_texts(s)
    found = drafts_of(s, current_owner())
    return jsonify(drafts=[draft_dict(s, found[name], newest) for name in sorted(found)])


@bp.get("/flows/history")
@requires("view_flows")
@query_parameters("limit")
def versions() -> Response:
    """Every version, newest first (?limit=N for the newest N)."""
    limit = _whole("limit", request.args["limit"]) if "limit" in request.args else None
    return jsonify(versions=[version_dict(v) for v in history(session(), limit=limit)])


@bp.get("/flows/diff")
@requires("view_flows")
@query_parameters("a", "b", "document")
def diff() -> Response:
    """What differs between versions a and b, per document (unified diffs; ?document= for one)."""
    s = session()
    a, b = _whole("a", request.args.get("a")), _whole("b", request.args.get("b"))
    diffs = document_diffs(_texts(s, a), _texts(s, b))
    document = request.args.get("document")
    if document is not None:
        diffs = [d for d in diffs if d.document == document]
        if not diffs:
            abort(404, f"neither version {a} nor version {b} has {document}")
    return jsonify(a=a, b=b, documents=[diff_dict(d) for d in diffs])


@bp.post("/flows/validate")
@requires("edit_flows")
@query_parameters()
def validate() -> Response:
    """Every problem of the newest version with {documents: {file: text | null}} over it (null removes)."""
    s = session()
    documents = _documents(bodies.json_body(), required=True)
    bundle, problems = load_documents(workspace_texts(s, documents))
    return jsonify(valid=bundle is not None, problems=[p.as_dict() for p in problems])


def _documents(body: Mapping[str, Any], *, required: bool) -> dict[str, str | None]:
    """The body's {documents: {file: text | null}}, checked (400 naming what is wrong)."""
    documents = body.get("documents")
    if documents is None and not required:
        return {}
    if not isinstance(documents, dict) or not documents:
        abort(400, 'documents: give {"file name": "text", ...} (null removes a document)')
    for name, text in documents.items():
        _document(name)
        if text is not None and not isinstance(text, str):
            abort(400, f"documents.{name}: the document's text as a string, or null to remove it")
    return documents


@bp.post("/flows/publish")
@requires("edit_flows")
@query_parameters()
def publish() -> Response | tuple[Response, int]:
    """Publish {documents} over the newest version (based_on: the version they were edited from), or without
    documents every draft of this token; 201 the version, 409 conflicts, 422 problems."""
    s = session()
    body = bodies.json_body()
    note = _note(body)
    documents = _documents(body, required=False)

    def publishing() -> SiteVersion:
        if documents:
            based_on = _based_on(s, body)
            return publish_texts(
                s,
                documents,
                note=note,
                actor=current_actor(),
                now=clock(),
                source="api",
                based_on=based_on,
                changed=list(documents),
            )
        return publish_drafts(s, current_owner(), note=note, actor=current_actor(), now=clock(), source="api")

    return _published(s, publishing)


def _published(s: Session, publishing: Callable[[], SiteVersion]) -> tuple[Response, int]:
    """201 with the version `publishing` made and committed; 409/422 (rolled back) when it was refused."""
    try:
        created = publishing()
    except PublishRefused as refused:
        s.rollback()
        return _refused(refused)
    s.flush()
    shown = _created(s, created)
    s.commit()
    return jsonify(version=shown), 201


@bp.post("/flows/rollback")
@requires("edit_flows")
@query_parameters()
def roll_back() -> Response | tuple[Response, int]:
    """Publish version {version}'s content again as a new version, with {note}; 201 the new version."""
    s = session()
    body = bodies.json_body()
    note = _note(body)
    version = _whole("version", body.get("version"))
    if s.get(SiteVersion, version) is None:
        abort(404, f"there is no version {version}")
    return _published(s, lambda: rollback(s, version, note=note, actor=current_actor(), now=clock()))


@bp.get("/flows/<document>")
@requires("view_flows")
@query_parameters("version")
def read(document: str) -> Response:
    """One document's text in the newest version (or ?version=N)."""
    s = session()
    document = _document(document)
    if "version" in request.args:
        version: int | None = _whole("version", request.args["version"])
    else:
        version = newest_version_id(s)
        if version is None:
            abort(404, "nothing is published yet")
    texts = _texts(s, version)  # type: ignore[arg-type]
    if document not in texts:
        abort(404, f"version {version} has no {document}")
    return jsonify(document=document, version=version, text=texts[document])


@bp.put("/flows/<document>/draft")
@requires("edit_flows")
@query_parameters()
def put_draft(document: str) -> Response:
    """Keep {text} (null: remove the document on publish) as this token's draft, based on {based_on}."""
    s = session()
    document = _document(document)
    body = bodies.json_body()
    if "text" not in body or not (body["text"] is None or isinstance(body["text"], str)):
        abort(400, "text: the document's text as a string (null to remove the document on publish)")
    based_on = _based_on(s, body)
    _, texts = newest_texts(s)
    draft = save_draft(s, current_owner(), document, body["text"], based_on, clock())
    s.flush()
    shown = draft_dict(s, draft, texts)
    s.commit()
    return jsonify(draft=shown)


@bp.delete("/flows/<document>/draft")
@requires("edit_flows")
@query_parameters()
def delete_draft(document: str) -> Response:
    """Throw this token's draft of the document away (404 when there is none)."""
    s = session()
    document = _document(document)
    if document not in drafts_of(s, current_owner()):
        abort(404, f"no draft of {document}")
    discard_draft(s, current_owner(), document)
    s.commit()
    return jsonify(discarded=document)
