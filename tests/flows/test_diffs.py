"""Per-document diffs between two versions: status, unified text, side-by-side rows."""

from __future__ import annotations

import pytest

from ivr.flows.diffs import DocumentDiff, Row, document_diffs

OLD = "a\nb\nc\nd\n"
NEW = "a\nB\nc\nd\ne\n"


def test_each_document_gets_a_status_site_first() -> None:
    old = {"main.json": OLD, "gone.json": "x\n", "site.json": "{}\n"}
    new = {"main.json": NEW, "added.json": "y\n", "site.json": "{}\n"}
    assert [(d.document, d.status) for d in document_diffs(old, new)] == [
        ("site.json", "same"),
        ("added.json", "added"),
        ("gone.json", "removed"),
        ("main.json", "changed"),
    ]


def test_unified_reads_like_diff_u() -> None:
    diff = document_diffs({"main.json": OLD}, {"main.json": NEW})[0]
    assert diff.unified().splitlines() == [
        "--- a/main.json",
        "+++ b/main.json",
        "@@ -1,4 +1,5 @@",
        " a",
        "-b",
        "+B",
        " c",
        " d",
        "+e",
    ]
    assert DocumentDiff("main.json", "same", OLD, OLD).unified() == ""


@pytest.mark.parametrize(
    ("old", "new", "first"),
    [(None, "x\n", "--- /dev/null"), ("x\n", None, "--- a/new.json")],
)
def test_added_and_removed_documents_diff_against_nothing(old, new, first) -> None:
    diff = document_diffs({"new.json": old} if old else {}, {"new.json": new} if new else {})[0]
    assert diff.unified().splitlines()[0] == first


def test_side_by_side_pairs_every_line() -> None:
    rows = document_diffs({"main.json": "a\nb\nc\nx\ny\n"}, {"main.json": "a\nB\nc\nz\n"})[0].side_by_side()
    assert rows == [
        Row("equal", 1, "a", 1, "a"),
        Row("replace", 2, "b", 2, "B"),
        Row("equal", 3, "c", 3, "c"),
        Row("replace", 4, "x", 4, "z"),
        Row("delete", 5, "y", None, None),
    ]
    inserted = document_diffs({"m.json": "a\n"}, {"m.json": "a\nb\n"})[0].side_by_side()
    assert inserted[-1] == Row("insert", None, None, 2, "b")
