"""A flows folder on disk for the validation tests: site.json plus flow files, then load_folder()."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ivr.engine import Bundle, Problem, load_folder

from .support import SITE_DOC

Found = tuple[str, str | None, str | None, str]

BYE = {"type": "hangup", "prompt": "Goodbye."}


class Folder:
    """A temporary flows folder; flow files are named after their flow unless told otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.site: dict[str, Any] = copy.deepcopy(SITE_DOC)

    def write(self, file: str, content: Mapping[str, Any] | str | bytes) -> Path:
        path = self.path / file
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), "utf-8")
        return path

    def flow(
        self, nodes: Mapping[str, Any], name: str = "main", file: str | None = None, **fields: Any
    ) -> Path:
        """Write a flow file; 'main' is the default flow unless `default` says otherwise."""
        doc = {"name": name, "start": next(iter(nodes)), "nodes": dict(nodes)}
        if name == "main":
            doc["default"] = True
        doc |= fields
        return self.write(file or f"{name}.json", {k: v for k, v in doc.items() if v is not None})

    def load(self, only: Iterable[Path] | None = None) -> tuple[Bundle | None, list[Problem]]:
        self.write("site.json", json.dumps(self.site))
        return load_folder(self.path, only=only)

    def problems(self, only: Iterable[Path] | None = None) -> list[Found]:
        """(file name, node, field, message) of every problem; asserts that no bundle came with them."""
        bundle, problems = self.load(only)
        assert bundle is None
        return [(Path(p.file).name, p.node, p.field, p.message) for p in problems]
