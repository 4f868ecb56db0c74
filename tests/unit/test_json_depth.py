"""JSON depth is measured on the bytes, across chunk boundaries, ignoring brackets in strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.domain import json_depth


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _fed(document: bytes, size: int) -> int:
    gauge = json_depth.DepthGauge()
    for at in range(0, len(document), size):
        gauge.feed(document[at : at + size])
    return gauge.deepest


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\k'), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(_values, st.integers(min_value=1, max_value=7))
def test_the_gauge_agrees_with_the_parsed_depth_in_any_chunking(value: object, size: int) -> None:
    document = json.dumps(value).encode()
    assert _fed(document, size) == _depth(value)


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'"[[[[{{{{"', 0),
        (b'["\\"[[[", "\\\\", []]', 2),
        (b'{"k\\\\": "v\\\\\\"]]]"}', 1),
    ],
)
def test_known_depths(document: bytes, depth: int) -> None:
    assert _fed(document, len(document)) == depth
    assert _fed(document, 1) == depth


def test_too_deep_is_measured_without_recursion() -> None:
    deep = "[" * 1_000_000
    assert json_depth.too_deep(deep)
    assert not json_depth.too_deep("[" * json_depth.MAX_DEPTH + "]" * json_depth.MAX_DEPTH)
    assert json_depth.too_deep("[" * 3, limit=2)
