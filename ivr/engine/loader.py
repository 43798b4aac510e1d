"""Reading a site's documents (site.json and the flow files), checked by schema and by meaning: one code
path, `load_documents` on texts by file name; `load_folder` reads a folder into such texts."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bounds import loads_json
from .problems import Problem, errors
from .schema import check
from .site import Site
from .validate import Document, check_flows

SITE_FILE = "site.json"
DOCUMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,114}\.json")  # a plain file name: no folders
NO_FLOWS = "no flow files (*.json besides site.json)"
BAD_NAME = "not a document name: letters, digits, '_', '-' or '.', ending in .json (no folders)"


def is_document_name(name: str) -> bool:
    """Whether `name` can name a document (site.json or a flow file): a plain *.json file name."""
    return DOCUMENT_NAME.fullmatch(name) is not None


def canonical_text(data: Mapping[str, Any]) -> str:
    """A document as text when its exact text is not known: indented by 2, keys as stored, a final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@dataclass
class Bundle:
    """The documents of one site, published together as one version.

    `texts` holds every document's exact text (file name -> text, site.json included), so a version
    exports byte for byte as it was published.
    """

    site: dict[str, Any]
    flows: dict[str, dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)  # flow name -> file name
    texts: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The bundle as one JSON document (what the database stores)."""
        return {"site": self.site, "flows": self.flows, "files": self.files, "texts": self.texts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bundle:
        """A bundle from its stored JSON; versions stored before texts were kept get canonical texts.

        The documents are read back from their texts: JSONB (PostgreSQL) sorts object keys, and key order
        matters (a route's `weights` pick desks in the order written), so every process must see the same.
        """
        site, flows = data["site"], data["flows"]
        files = dict(data.get("files", {}))
        texts = dict(data.get("texts") or {})
        if texts:
            site = json.loads(texts[SITE_FILE].removeprefix("\ufeff"))
            flows = {
                name: json.loads(texts[files[name]].removeprefix("\ufeff")) if name in files else flow
                for name, flow in flows.items()
            }
        else:
            texts[SITE_FILE] = canonical_text(site)
            for name, flow in flows.items():
                texts[files.get(name, f"{name}.json")] = canonical_text(flow)
        return cls(site=site, flows=flows, files=files, texts=texts)

    def digest(self) -> str:
        """A SHA-256 of the canonical JSON, identifying this exact content (texts included)."""
        canonical = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def build(self) -> Site:
        """The engine's view of the bundle."""
        return Site.from_json(self.site, self.flows)


def _parse(name: str, text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        data = loads_json(text.removeprefix("\ufeff"))  # editors on Windows may add a byte order mark
    except json.JSONDecodeError as exc:
        return None, [
            Problem(name, None, None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        ]
    except ValueError as exc:  # nested too deeply
        return None, [Problem(name, None, None, f"invalid JSON: {exc}")]
    if not isinstance(data, dict):
        return None, [Problem(name, None, None, "the document must be a JSON object")]
    return data, []


def load_documents(texts: Mapping[str, str]) -> tuple[Bundle | None, list[Problem]]:
    """Check a site's documents (file name -> text); a bundle only when no problem is an error.

    The problems (warnings too, with a bundle) are sorted and name the documents by their file names.
    """
    return _load(texts, unreadable=())


def _load(texts: Mapping[str, str], unreadable: Collection[str]) -> tuple[Bundle | None, list[Problem]]:
    """load_documents, where `unreadable` names flow files that exist but could not be read as text."""
    problems = [Problem(name, None, None, BAD_NAME) for name in texts if not is_document_name(name)]
    site: dict[str, Any] | None = None
    if SITE_FILE in texts:
        site, found = _parse(SITE_FILE, texts[SITE_FILE])
        problems += found
        if site is not None:
            problems += check("site", site, SITE_FILE)
    else:
        problems.append(Problem(SITE_FILE, None, None, "file not found"))
    flows: dict[str, Document] = {}
    unchecked: dict[str, dict[str, Any]] = {}
    flow_names = sorted(name for name in texts if name != SITE_FILE)
    for name in flow_names:
        data, found = _parse(name, texts[name])
        if data is not None:
            found += check("flow", data, name)
        problems += found
        if data is not None and found and isinstance(data.get("name"), str):
            unchecked[data["name"]] = data
        if data is None or found:
            continue
        if data["name"] in flows:
            message = f"flow name {data['name']!r} is also used by {flows[data['name']].file}"
            problems.append(Problem(name, None, "name", message))
            continue
        flows[data["name"]] = Document(name, data)
    if not flow_names and not unreadable:
        problems.append(Problem("", None, None, NO_FLOWS))
    if site is not None and not any(p.file == SITE_FILE for p in problems):
        problems += check_flows(Document(SITE_FILE, site), flows, unchecked)
    problems = sorted(set(problems), key=Problem.sort_key)
    if site is None or unreadable or errors(problems):
        return None, problems
    bundle = Bundle(
        site=site,
        flows={name: dict(doc.data) for name, doc in flows.items()},
        files={name: doc.file for name, doc in flows.items()},
        texts=dict(texts),
    )
    return bundle, problems


def read_folder(folder: Path) -> tuple[dict[str, str], list[Problem]]:
    """The texts of a folder's documents, exactly as stored (no newline translation), and the files that
    cannot be read as UTF-8 text (problems named by file name)."""
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.json")):
        try:
            texts[path.name] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(path.name, None, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            )
        except OSError as exc:
            problems.append(Problem(path.name, None, None, f"cannot be read: {exc.strerror}"))
    return texts, problems


def load_folder(folder: Path, only: Iterable[Path] | None = None) -> tuple[Bundle | None, list[Problem]]:
    """Read and check a flows folder (load_documents on its files); problems name files by their paths.

    With `only`, problems are reported for those flow files (and the site file) alone; the other
    flows of the folder are still read so that goto targets resolve.
    """
    texts, unreadable = read_folder(folder)
    bundle, problems = _load(texts, unreadable=[p.file for p in unreadable])
    problems = unreadable + problems
    if only is not None:
        wanted = {p.name for p in only} | {SITE_FILE, ""}
        problems = [p for p in problems if p.file in wanted]
    located = [_located(folder, problem) for problem in problems]
    return bundle, sorted(set(located), key=Problem.sort_key)


def _located(folder: Path, problem: Problem) -> Problem:
    """The problem with its file named by path (the folder itself for problems of the whole folder)."""
    path = folder / problem.file if problem.file else folder
    message = f"{problem.message} in this folder" if problem.message == NO_FLOWS else problem.message
    return Problem(str(path), problem.node, problem.field, message, problem.severity)
