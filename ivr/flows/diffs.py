"""SHIM (helper D, throwaway): replaced by helper A's ivr/flows/diffs.py at merge."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side diff."""

    kind: str
    old_no: int | None
    old_line: str | None
    new_no: int | None
    new_line: str | None


@dataclass(frozen=True)
class DocumentDiff:
    """One document's diff."""

    document: str
    status: str
    old_text: str
    new_text: str

    def unified(self) -> str:
        """Unified diff."""
        lines = difflib.unified_diff(
            self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True),
            f"a/{self.document}", f"b/{self.document}",
        )  # fmt: skip
        return "".join(lines)

    def side_by_side(self) -> list[Row]:
        """Rows."""
        old, new = self.old_text.splitlines(), self.new_text.splitlines()
        rows: list[Row] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
            for k in range(max(i2 - i1, j2 - j1)):
                o = i1 + k if i1 + k < i2 else None
                n = j1 + k if j1 + k < j2 else None
                rows.append(Row(tag, None if o is None else o + 1, None if o is None else old[o],
                                None if n is None else n + 1, None if n is None else new[n]))  # fmt: skip
        return rows


def document_diffs(old: Mapping[str, str], new: Mapping[str, str]) -> list[DocumentDiff]:
    """Per document."""
    found = []
    for name in sorted(set(old) | set(new), key=lambda n: (n != "site.json", n)):
        status = "added" if name not in old else "removed" if name not in new else (
            "same" if old[name] == new[name] else "changed")  # fmt: skip
        found.append(DocumentDiff(name, status, old.get(name, ""), new.get(name, "")))
    return found
