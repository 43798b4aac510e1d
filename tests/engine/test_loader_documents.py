"""load_documents: a site's documents by file name (the database, a draft), the same checks as a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.engine import Bundle, load_documents, load_folder
from ivr.engine.loader import canonical_text, read_folder

from .folders import BYE, Folder

SAY = {"type": "say", "prompt": "Hi.", "next": "bye"}


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def _texts(folder: Folder) -> dict[str, str]:
    folder.load()  # writes site.json
    return read_folder(folder.path)[0]


def test_problems_name_documents_by_file_name(folder: Folder) -> None:
    folder.flow({"hello": {**SAY, "next": "nowhere"}, "bye": BYE})
    bundle, problems = load_documents(_texts(folder))
    assert bundle is None
    assert [(p.file, p.node, p.field, p.severity) for p in problems] == [
        ("main.json", "bye", None, "warning"),  # nothing leads to it any more
        ("main.json", "hello", None, "error"),  # no path from it ends the call
        ("main.json", "hello", "next", "error"),
    ]


def test_a_folder_and_its_texts_give_the_same_problems(folder: Folder) -> None:
    folder.site["fallback"]["desk"] = "sales"
    folder.flow({"hello": {**SAY, "next": "jump"}, "jump": {"type": "goto", "flow": "other"}})
    folder.write("broken.json", "{")
    from_texts = load_documents(_texts(folder))[1]
    from_folder = load_folder(folder.path)[1]
    assert [p.as_dict() | {"file": Path(p.file).name} for p in from_folder] == [
        p.as_dict() for p in from_texts
    ]
    assert {p.file for p in from_texts} == {"broken.json", "main.json", "site.json"}


def test_texts_are_kept_exactly_as_written(folder: Folder) -> None:
    crlf = json.dumps(
        {"name": "main", "default": True, "start": "hello", "nodes": {"hello": SAY, "bye": BYE}}
    )
    folder.write("main.json", "\ufeff" + crlf.replace(", ", ",\r\n  ") + "\r\n")
    bundle, problems = folder.load()
    assert problems == [] and bundle is not None
    assert bundle.texts["main.json"].encode() == (folder.path / "main.json").read_bytes()
    assert bundle.texts["site.json"] == (folder.path / "site.json").read_text()
    assert bundle.files == {"main": "main.json"}


def test_warnings_come_with_the_bundle(folder: Folder) -> None:
    folder.flow({"hello": SAY, "bye": BYE, "spare": BYE})
    bundle, problems = load_documents(_texts(folder))
    assert bundle is not None and set(bundle.flows["main"]["nodes"]) == {"hello", "bye", "spare"}
    assert [(p.node, p.severity) for p in problems] == [("spare", "warning")]


@pytest.mark.parametrize("name", ["../main.json", "sub/main.json", "main.txt", ".json", "-x.json", ""])
def test_a_document_name_must_be_a_plain_json_file_name(folder: Folder, name: str) -> None:
    folder.flow({"hello": SAY, "bye": BYE})
    texts = _texts(folder)
    texts[name] = texts.pop("main.json")
    bundle, problems = load_documents(texts)
    assert bundle is None
    assert (name, "error") in [
        (p.file, p.severity) for p in problems if p.message.startswith("not a document")
    ]


def test_no_flow_documents(folder: Folder) -> None:
    folder.load()
    assert [(p.file, p.message) for p in load_documents({"site.json": _texts(folder)["site.json"]})[1]] == [
        ("", "no flow files (*.json besides site.json)")
    ]


def test_a_version_stored_before_texts_were_kept_gets_canonical_texts(folder: Folder) -> None:
    folder.flow({"hello": SAY, "bye": BYE}, file="lines.json")
    bundle = folder.load()[0]
    assert bundle is not None
    old = {"site": bundle.site, "flows": bundle.flows, "files": bundle.files}
    texts = Bundle.from_json(old).texts
    assert set(texts) == {"site.json", "lines.json"}
    assert texts["lines.json"] == canonical_text(bundle.flows["main"])
    assert texts["lines.json"].startswith('{\n  "name": "main",') and texts["lines.json"].endswith("}\n")
    assert load_documents(texts)[0] is not None


def test_a_file_that_cannot_be_read_is_a_problem_named_by_its_file(folder: Folder) -> None:
    folder.flow({"hello": SAY, "bye": BYE})
    (folder.path / "gone.json").symlink_to(folder.path / "moved-away.json")  # a link left dangling
    assert folder.problems() == [("gone.json", None, None, "cannot be read: No such file or directory")]
