"""Reading a flows folder: the site file and every flow file, checked by schema and by meaning."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import Problem
from .schema import check
from .site import Site
from .validate import Document, check_flows

SITE_FILE = "site.json"


@dataclass
class Bundle:
    """The documents of one flows folder, as published together as one version."""

    site: dict[str, Any]
    flows: dict[str, dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The bundle as one JSON document (what the database stores)."""
        return {"site": self.site, "flows": self.flows, "files": self.files}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bundle:
        """A bundle from its stored JSON."""
        return cls(site=data["site"], flows=data["flows"], files=data.get("files", {}))

    def digest(self) -> str:
        """A SHA-256 of the canonical JSON, identifying this exact content."""
        canonical = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def build(self) -> Site:
        """The engine's view of the bundle."""
        return Site.from_json(self.site, self.flows)


def _read_json(path: Path, label: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        data = json.loads(path.read_text("utf-8-sig"))  # editors on Windows may add a BOM
    except FileNotFoundError:
        return None, [Problem(label, None, None, "file not found")]
    except UnicodeDecodeError as exc:
        return None, [Problem(label, None, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
    except json.JSONDecodeError as exc:
        return None, [
            Problem(label, None, None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        ]
    if not isinstance(data, dict):
        return None, [Problem(label, None, None, "the document must be a JSON object")]
    return data, []


def flow_files(folder: Path) -> list[Path]:
    """The flow files of a folder: every *.json except the site file."""
    return sorted(p for p in folder.glob("*.json") if p.name != SITE_FILE)


def load_folder(folder: Path, only: Iterable[Path] | None = None) -> tuple[Bundle | None, list[Problem]]:
    """Read and check a flows folder; a bundle only when there are no problems at all.

    With `only`, problems are reported for those flow files (and the site file) alone; the other
    flows of the folder are still read so that goto targets resolve.
    """
    site_path = folder / SITE_FILE
    site, problems = _read_json(site_path, str(site_path))
    if site is not None:
        problems += check("site", site, str(site_path))
    flows: dict[str, Document] = {}
    unchecked: dict[str, dict[str, Any]] = {}
    for path in flow_files(folder):
        data, errors = _read_json(path, str(path))
        if data is not None:
            errors += check("flow", data, str(path))
        problems += errors
        if data is not None and errors and isinstance(data.get("name"), str):
            unchecked[data["name"]] = data
        if data is None or errors:
            continue
        if data["name"] in flows:
            problems.append(
                Problem(
                    str(path),
                    None,
                    "name",
                    f"flow name {data['name']!r} is also used by {flows[data['name']].file}",
                )
            )
            continue
        flows[data["name"]] = Document(str(path), data)
    if not flow_files(folder):
        problems.append(
            Problem(str(folder), None, None, "no flow files (*.json besides site.json) in this folder")
        )
    if site is not None and not any(p.file == str(site_path) for p in problems):
        problems += check_flows(Document(str(site_path), site), flows, unchecked)
    complete = not problems and site is not None
    if only is not None:
        wanted = {str(p) for p in only} | {str(site_path), str(folder)}
        problems = [p for p in problems if p.file in wanted]
    problems = sorted(set(problems), key=Problem.sort_key)
    if not complete or site is None:
        return None, problems
    bundle = Bundle(
        site=site,
        flows={name: dict(doc.data) for name, doc in flows.items()},
        files={name: Path(doc.file).name for name, doc in flows.items()},
    )
    return bundle, []
