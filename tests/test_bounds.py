"""Every whole number a route takes is bounded to the database's range; JSON bodies are bounded in depth."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from ivr.bounds import BIGINT_MAX, INT_MAX, json_depth, loads_json, whole
from ivr.inputs import IdConverter


def test_every_int_in_a_route_is_bounded_to_an_id_column(app):
    found = {
        (rule.rule, name): converter
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if isinstance(converter, IntegerConverter)
    }
    assert ("/voice/outbound/<int(wide=True):attempt_id>", "attempt_id") in found
    assert ("/campaigns/<int:campaign_id>", "campaign_id") in found
    for converter in found.values():
        assert isinstance(converter, IdConverter)
        assert converter.max in (INT_MAX, BIGINT_MAX)
    assert {c.max for c in found.values()} == {INT_MAX, BIGINT_MAX}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), (" 7 ", 7), ("0", 0), (str(INT_MAX), INT_MAX), (str(INT_MAX + 1), None), ("9" * 400, None),
     ("²", None), ("١", None), ("-1", None), ("+1", None), ("", None), (None, None), ("1e3", None)],
)  # fmt: skip
def test_whole_numbers_within_the_range(text, expected):
    assert whole(text) == expected


def test_json_depth_is_measured_without_recursion():
    assert json_depth(5) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert json_depth(deep) == 100_001


def test_loads_json_refuses_what_nests_too_deep():
    assert loads_json("[[1]]", depth=2) == [[1]]
    with pytest.raises(ValueError, match="nest deeper than 2 levels"):
        loads_json("[[[1]]]", depth=2)
    with pytest.raises(ValueError, match="nest deeper than 64 levels"):
        loads_json("[" * 10_000 + "]" * 10_000)
