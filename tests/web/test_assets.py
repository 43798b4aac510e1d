"""The committed editor bundles (ivr/web/static/build) are what their sources build to, and safe under the
pages' Content-Security-Policy (script-src 'self': no eval, no new Function)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "ivr" / "web" / "static" / "build"
BUILD_SCRIPT = ROOT / "ivr" / "web" / "assets" / "build.mjs"
BUNDLES = ("editor.js", "editor.css")
# Code built from strings at run time: refused by script-src 'self' (no 'unsafe-eval').
EVAL = re.compile(r"\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(\s*[\"'`]|\bsetTimeout\s*\(\s*[\"'`]")
SIZE_BUDGET = {"editor.js": 750_000, "editor.css": 20_000}  # bytes, minified: a guard against a heavy import


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundles built now from ivr/web/assets with the pinned esbuild (node_modules from `npm ci`)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.fail(
            "The asset build needs Node.js and node_modules: run `make assets` (npm ci, then the build)"
        )
    out = tmp_path_factory.mktemp("build")
    subprocess.run([node, str(BUILD_SCRIPT), "--outdir", str(out)], cwd=ROOT, check=True, timeout=120)
    return out


def test_the_build_makes_exactly_the_committed_bundles(fresh_build: Path) -> None:
    assert sorted(path.name for path in fresh_build.iterdir()) == sorted(BUNDLES)
    assert sorted(path.name for path in BUILD.iterdir()) == sorted(BUNDLES)


@pytest.mark.parametrize("name", BUNDLES)
def test_a_committed_bundle_equals_a_fresh_build_byte_for_byte(fresh_build: Path, name: str) -> None:
    committed, built = (BUILD / name).read_bytes(), (fresh_build / name).read_bytes()
    assert committed == built, (
        f"ivr/web/static/build/{name} is stale: run `make assets` and commit the result"
    )


def test_the_editor_bundle_builds_no_code_from_strings() -> None:
    script = (BUILD / "editor.js").read_text(encoding="utf-8")
    assert EVAL.findall(script) == []
    assert "WebAssembly" not in script  # script-src 'self' refuses compiling WebAssembly too


@pytest.mark.parametrize("name", BUNDLES)
def test_a_bundle_is_minified_and_within_its_size_budget(name: str) -> None:
    text = (BUILD / name).read_text(encoding="utf-8")
    assert 0 < len(text.encode()) <= SIZE_BUDGET[name]
    assert len(text) / (text.count("\n") + 1) > 1000  # minified: long lines (newlines only inside strings)


def test_npm_packages_are_pinned_to_exact_versions() -> None:
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    versions = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    assert {"codemirror", "codemirror-json-schema", "@codemirror/merge", "@dagrejs/dagre", "esbuild"} <= set(
        versions
    )
    loose = {
        name: version for name, version in versions.items() if not re.fullmatch(r"\d+\.\d+\.\d+", version)
    }
    assert loose == {}
    locked = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    assert {name: locked[f"node_modules/{name}"]["version"] for name in versions} == versions
