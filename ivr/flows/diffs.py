"""Line diffs of a site's documents between two versions, unified or side by side (pure, difflib)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.loader import SITE_FILE


@dataclass(frozen=True)
class Row:
    """One row of a side-by-side diff: kind is equal, replace, delete or insert."""

    kind: str
    old_no: int | None
    old_line: str | None
    new_no: int | None
    new_line: str | None


@dataclass(frozen=True)
class DocumentDiff:
    """One document in two versions; status is added, removed, changed or same."""

    document: str
    status: str
    old_text: str | None
    new_text: str | None

    def _lines(self) -> tuple[list[str], list[str]]:
        return (self.old_text or "").splitlines(), (self.new_text or "").splitlines()

    def unified(self, context: int = 3) -> str:
        """The diff as `diff -u` prints it ('' when the texts are the same)."""
        old, new = self._lines()
        lines = difflib.unified_diff(
            old,
            new,
            fromfile=f"a/{self.document}" if self.old_text is not None else "/dev/null",
            tofile=f"b/{self.document}" if self.new_text is not None else "/dev/null",
            n=context,
            lineterm="",
        )
        return "".join(f"{line}\n" for line in lines)

    def side_by_side(self) -> list[Row]:
        """Every line of both texts, paired: equal, replaced, deleted (old only) or inserted (new only)."""
        old, new = self._lines()
        rows: list[Row] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if tag == "equal":
                rows += [
                    Row("equal", i + 1, old[i], j + 1, new[j])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            rows += [Row("replace", i1 + k + 1, old[i1 + k], j1 + k + 1, new[j1 + k]) for k in range(paired)]
            rows += [Row("delete", i + 1, old[i], None, None) for i in range(i1 + paired, i2)]
            rows += [Row("insert", None, None, j + 1, new[j]) for j in range(j1 + paired, j2)]
        return rows


def document_order(name: str) -> tuple[bool, str]:
    """site.json first, then the flow files by name."""
    return name != SITE_FILE, name


def document_diffs(old: Mapping[str, str], new: Mapping[str, str]) -> list[DocumentDiff]:
    """One DocumentDiff per document in either version, site.json first."""
    found = []
    for name in sorted(set(old) | set(new), key=document_order):
        before, after = old.get(name), new.get(name)
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        else:
            status = "same" if before == after else "changed"
        found.append(DocumentDiff(name, status, before, after))
    return found
