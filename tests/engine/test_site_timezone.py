"""The site's time zone: where its people are (the call pages show times in it); UTC when not given."""

from __future__ import annotations

from pathlib import Path

import pytest

from .folders import BYE, Folder

HELLO = {"hello": {"type": "say", "prompt": "Hi.", "next": "bye"}, "bye": BYE}


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


@pytest.mark.parametrize(("given", "zone"), [(None, "UTC"), ("America/Chicago", "America/Chicago")])
def test_the_site_time_zone_defaults_to_utc(folder: Folder, given: str | None, zone: str) -> None:
    if given is not None:
        folder.site["timezone"] = given
    folder.flow(HELLO)
    bundle, problems = folder.load()
    assert problems == [] and bundle is not None
    assert bundle.build().timezone == zone


def test_an_unknown_site_time_zone_is_a_problem(folder: Folder) -> None:
    folder.site["timezone"] = "Mars/Olympus"
    folder.flow(HELLO)
    assert folder.problems() == [("site.json", None, "timezone", "unknown time zone 'Mars/Olympus'")]
