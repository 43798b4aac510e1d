"""The lock files pin what pyproject.toml pins, the service and the tests run the same releases, and the
dependency audit fails on a known advisory and tells what it could not check."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / ".ci" / "audit_dependencies.py"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", re.MULTILINE)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(path: Path) -> dict[str, str]:
    return {_normal(name): version for name, version in PIN.findall(path.read_text())}


def _declared(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        name, version = requirement.split("==")
        pins[_normal(name.split("[")[0])] = version
    return pins


def _audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", AUDIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_lock_files_pin_every_dependency_at_the_declared_release() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    app, test = _locked(ROOT / "requirements.txt"), _locked(ROOT / "requirements-test.txt")
    for name, version in _declared(project["dependencies"]).items():
        assert app.get(name) == version, f"requirements.txt: {name} is not {version}: run `make lock`"
    for name, version in _declared(
        project["dependencies"] + project["optional-dependencies"]["test"]
    ).items():
        assert test.get(name) == version, f"requirements-test.txt: {name} is not {version}: run `make lock`"
    differing = {name for name in app if test.get(name) != app[name]}
    assert not differing, f"the tests would run other releases than the service: {sorted(differing)}"


def test_every_locked_release_carries_hashes() -> None:
    for lockfile in ("requirements.txt", "requirements-test.txt"):
        text = (ROOT / lockfile).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1].split("#\n", 1)[-1])
        for block in blocks:
            if "==" in block:
                assert "--hash=sha256:" in block, f"{lockfile}: {block.splitlines()[0]} has no hash"


def _fake_pypi(pages: dict[str, dict[str, Any] | None]) -> Any:
    def fetch(url: str) -> dict[str, Any] | None:
        return pages.get(url.removeprefix("https://pypi.org/pypi/"))

    return fetch


def test_the_audit_fails_on_an_advisory_and_lists_what_it_could_not_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = _audit_module()
    lock = tmp_path / "requirements.txt"
    lock.write_text("flask==3.1.0 \\\n    --hash=sha256:00\nold-thing==1.0 \\\n    --hash=sha256:11\n")
    advisory = {"id": "GHSA-x", "aliases": ["CVE-1"], "fixed_in": ["3.1.1"], "withdrawn": None}
    pages: dict[str, dict[str, Any] | None] = {
        "flask/3.1.0/json": {"info": {"version": "3.1.0"}, "vulnerabilities": [advisory]},
        "old-thing/1.0/json": None,  # a mirror that serves only the project's JSON
        "old-thing/json": {"info": {"version": "2.0"}, "vulnerabilities": []},
    }
    monkeypatch.setattr(audit, "fetch", _fake_pypi(pages))
    assert audit.main([str(lock)]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE flask==3.1.0: GHSA-x (CVE-1) fixed in 3.1.1" in out
    assert "not audited old-thing==1.0: not the newest release (2.0)" in out

    pages["flask/3.1.0/json"] = {
        "info": {"version": "3.1.0"},
        "vulnerabilities": [advisory | {"withdrawn": "x"}],
    }
    assert audit.main([str(lock)]) == 0  # a withdrawn advisory does not fail; the unaudited pin only warns
    assert audit.main(["--strict", str(lock)]) == 1
    pages["old-thing/json"] = {"info": {"version": "1.0"}, "vulnerabilities": []}  # the newest: audited
    assert audit.main(["--strict", str(lock)]) == 0
