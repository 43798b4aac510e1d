"""A desk's targets in the site file: read with their defaults, and checked by the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.engine.site import Targets

from .folders import BYE, Folder


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    folder = Folder(tmp_path)
    folder.flow({"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE})
    return folder


def test_a_desk_without_targets_aims_for_80_percent_within_the_reports_threshold(folder: Folder) -> None:
    bundle, problems = folder.load()
    assert problems == [] and bundle is not None
    targets = bundle.build().desks["local"].targets
    assert targets == Targets(service_level_seconds=None, service_level_percent=80.0)
    assert (targets.asa_seconds, targets.abandonment_percent) == (None, None)


def test_targets_are_read_and_what_they_leave_out_keeps_its_default(folder: Folder) -> None:
    folder.site["desks"]["local"] |= {
        "targets": {"service_level_seconds": 30, "asa_seconds": 25, "abandonment_percent": 4}
    }
    folder.site["desks"]["phone"] |= {"targets": {"service_level_percent": 90}}
    bundle, problems = folder.load()
    assert problems == [] and bundle is not None
    desks = bundle.build().desks
    assert desks["local"].targets == Targets(30, 80.0, 25.0, 4.0)
    assert desks["phone"].targets == Targets(None, 90.0, None, None)


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ({"service_level_percent": 120}, "service_level_percent"),
        ({"service_level_seconds": 2.5}, "service_level_seconds"),
        ({"abandonment_percent": -1}, "abandonment_percent"),
        ({"asa": 30}, None),
    ],
)
def test_targets_out_of_range_or_unknown_are_refused(
    folder: Folder, targets: dict[str, Any], field: str | None
) -> None:
    folder.site["desks"]["local"] |= {"targets": targets}
    problems = folder.problems()
    assert problems, "the site must be refused"
    assert all(file == "site.json" for file, *_rest in problems)
    assert any("targets" in (where or "") + message for _file, _node, where, message in problems)
    if field is not None:
        assert any(field in (where or "") for _file, _node, where, _message in problems)
