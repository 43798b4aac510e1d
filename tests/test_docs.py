"""The docs: README.md and docs/*.md link to files and headings that exist and name code that exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^()\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
PATH = re.compile(r"(?<![\w./-])(?:ivr|tests|benchmarks)/[\w./*-]*[\w/*]")
DOTTED = re.compile(r"(?<![\w./-])ivr(?:\.[A-Za-z_]\w*)+")


def prose(text: str) -> str:
    """The text without fenced code blocks, whose brackets and hashes are not Markdown."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays, its target goes
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub makes for the page's headings (a repeated one gets -1, -2...)."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(prose(page.read_text(encoding="utf-8"))):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    """The relative link targets of a page (web and mail addresses left out)."""
    targets = LINK.findall(prose(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def resolves(dotted: str) -> bool:
    """Whether `ivr.a.b.c` names a module, or an attribute of the longest module that imports."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Reports over 1,000,000 calls", "reports-over-1000000-calls"),
        ("Twilio's answers", "twilios-answers"),
        ("Outbound campaigns (lists, do-not-call)", "outbound-campaigns-lists-do-not-call"),
        ("The `ivr` command_line", "the-ivr-command_line"),
        ("See [Flows](flows.md) now", "see-flows-now"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n", encoding="utf-8")
    assert anchors(page) == {"a", "notes", "notes-1"}


def test_links_skip_code_blocks_images_and_web_addresses(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "[a](a.md#x) ![img](pic.png) [web](https://example.com) [mail](mailto:a@b.c)\n"
        "```\n[code](nowhere.md)\n```\n[b](#y)\n",
        encoding="utf-8",
    )
    assert links(page) == ["a.md#x", "#y"]


def test_dotted_names_resolve() -> None:
    assert resolves("ivr.calls.privacy.mask_number")
    assert not resolves("ivr.privacy.mask_number")
    assert not resolves("ivr.calls.privacy.no_such_function")


def test_every_relative_link_and_anchor_exists() -> None:
    problems = []
    for page in PAGES:
        for target in links(page):
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                problems.append(f"{page.relative_to(ROOT)}: {target}: no file {path}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{page.relative_to(ROOT)}: {target}: no heading #{anchor}")
    assert problems == []


def test_every_code_path_named_exists() -> None:
    problems = []
    for page in PAGES:
        for path in PATH.findall(page.read_text(encoding="utf-8")):
            path = path.rstrip(".")
            if not any(ROOT.glob(path.rstrip("/"))):
                problems.append(f"{page.relative_to(ROOT)}: {path}")
    assert problems == []


def test_every_ivr_name_resolves() -> None:
    problems = []
    for page in PAGES:
        for dotted in DOTTED.findall(page.read_text(encoding="utf-8")):
            if not resolves(dotted):
                problems.append(f"{page.relative_to(ROOT)}: {dotted}")
    assert problems == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_module_docstrings_are_one_or_two_lines() -> None:
    """Narrative belongs in docs/; Alembic's generated revision headers are left as they are."""
    long = []
    for module in sorted((ROOT / "ivr").rglob("*.py")):
        if "versions" in module.relative_to(ROOT / "ivr").parts[:-1]:
            continue
        docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))
        if docstring and len(docstring.splitlines()) > 2:
            long.append(str(module.relative_to(ROOT)))
    assert long == []
