"""One meaning of since/until (ivr.calls.periods): until is excluded, a date runs to its end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import html

from ivr.calls.periods import moment, period

from ..web.test_web import client, signed_in, user  # noqa: F401  (fixtures: an ops user signed in, in a browser)


def test_a_date_as_until_runs_to_the_end_of_that_day() -> None:
    assert period("2026-11-20", "2026-11-20") == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
    )


def test_date_times_are_utc_unless_they_carry_an_offset() -> None:
    assert moment("until", "2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert moment("until", "2026-11-20T10:00:00-06:00") == datetime(2026, 11, 20, 16, tzinfo=UTC)
    assert moment("since", "2026-11-20T10:00:00") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert moment("since", "  ") is None


def test_the_last_day_there_is_means_no_end() -> None:
    assert period(None, "9999-12-31") == (None, None)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "9999-12-31T23:59:59-01:00"])
def test_a_bad_value_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"until: {text!r} is not an ISO 8601 date"):
        period(None, text)


def test_since_must_come_before_until() -> None:
    with pytest.raises(ValueError, match="must be before until"):
        period("2026-11-21", "2026-11-20T12:00:00Z")


def test_the_call_list_shows_the_until_it_was_given(signed_in) -> None:  # noqa: F811
    page = html.fromstring(signed_in.get("/?since=2026-11-19&until=2026-11-20").data)
    assert page.xpath("string(//input[@name='until']/@value)") == "2026-11-20"
    assert page.xpath("string(//input[@name='since']/@value)") == "2026-11-19"
    assert signed_in.get("/?until=9999-12-31").status_code == 200
