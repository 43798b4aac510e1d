"""Audit the locked Python dependencies against PyPI's advisories (the PyPA/OSV data PyPI publishes).

pip-audit asks PyPI for each release's JSON (/pypi/NAME/VERSION/json). Where that answers, this script
uses it too; where only the project's JSON (/pypi/NAME/json) answers (as on machines whose registry mirror
serves nothing else), that JSON carries the advisories of the newest release only, so a pin that is not
the newest cannot be audited there: it is listed as such, and --strict fails on it. Known advisories
(not withdrawn) always fail. Usage: python .ci/audit_dependencies.py [--strict] LOCKFILE...
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYPI = "https://pypi.org/pypi"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


@dataclass
class Finding:
    """What PyPI tells of one pinned release."""

    name: str
    version: str
    advisories: list[dict[str, Any]] = field(default_factory=list)
    unaudited: str = ""  # why it could not be audited, when it could not


def pins(lockfiles: list[str]) -> dict[str, str]:
    """Every name==version in the lock files, by normalised name."""
    found: dict[str, str] = {}
    for path in lockfiles:
        for name, version in PIN.findall(Path(path).read_text()):
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def fetch(url: str) -> dict[str, Any] | None:
    """The JSON at `url`, None on 404; other failures are retried, then raised."""
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                loaded: dict[str, Any] = json.load(answer)
                return loaded
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            if attempt == 2:
                raise
        except (urllib.error.URLError, TimeoutError):
            if attempt == 2:
                raise
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def audit(name: str, version: str) -> Finding:
    """The advisories of one release, or why they could not be read."""
    release = fetch(f"{PYPI}/{name}/{version}/json")
    if release is None:
        project = fetch(f"{PYPI}/{name}/json")
        if project is None:
            return Finding(name, version, unaudited="not on PyPI")
        newest = project["info"]["version"]
        if newest != version:
            return Finding(name, version, unaudited=f"not the newest release ({newest}); no advisories here")
        release = project
    live = [v for v in release.get("vulnerabilities", []) if not v.get("withdrawn")]
    return Finding(name, version, advisories=live)


def main(argv: list[str]) -> int:
    """Print what was found; 1 on any known advisory (or, with --strict, any unaudited pin)."""
    strict = "--strict" in argv
    lockfiles = [a for a in argv if a != "--strict"]
    pinned = pins(lockfiles)
    with ThreadPoolExecutor(8) as pool:
        findings = list(pool.map(lambda item: audit(*item), sorted(pinned.items())))
    vulnerable = [f for f in findings if f.advisories]
    unaudited = [f for f in findings if f.unaudited]
    for f in vulnerable:
        for v in f.advisories:
            aliases = ", ".join(v.get("aliases") or [])
            fixed = ", ".join(v.get("fixed_in") or []) or "no fix yet"
            print(f"VULNERABLE {f.name}=={f.version}: {v.get('id')} ({aliases}) fixed in {fixed}")
    for f in unaudited:
        print(f"not audited {f.name}=={f.version}: {f.unaudited}")
    audited = len(findings) - len(unaudited)
    print(
        f"dependency audit: {len(findings)} pinned releases, {audited} audited against PyPI's advisories, "
        f"{len(vulnerable)} with known advisories, {len(unaudited)} not audited"
    )
    return 1 if vulnerable or (strict and unaudited) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
