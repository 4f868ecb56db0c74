from __future__ import annotations

import pytest

from headwater.domain import paths

RECORD: dict[str, object] = {
    "_contact_id_": "l-0001:7",
    "_info": {"lastUpdated": 1700000000000, "tags": ["a", {"name": "b"}]},
    "items": [{"id": 1}, {"id": 2}],
    "a.b": "dotted key",
    "nested": {"x.y": {"z": 3}},
    "empty": None,
    "zero": 0,
}


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        ("_contact_id_", "l-0001:7"),
        ("_info.lastUpdated", 1700000000000),
        ("_info.tags.0", "a"),
        ("_info.tags.1.name", "b"),
        ("items.1.id", 2),
        ("a.b", "dotted key"),
        ("nested.x.y.z", 3),
        ("empty", None),
        ("zero", 0),
    ],
)
def test_get(dotted: str, expected: object) -> None:
    assert paths.get(RECORD, dotted) == expected


@pytest.mark.parametrize(
    "dotted",
    ["missing", "_info.missing", "items.2.id", "items.x", "items.-1", "_contact_id_.0", "empty.x"],
)
def test_get_raises_key_error_naming_the_path(dotted: str) -> None:
    with pytest.raises(KeyError) as caught:
        paths.get(RECORD, dotted)
    assert caught.value.args == (dotted,)


@pytest.mark.parametrize(
    ("dotted", "words"),
    [
        ("", "non-empty"),
        (None, "non-empty"),
        (3, "non-empty"),
        ("a..b", "empty segment"),
        (".a", "empty segment"),
        ("a.", "empty segment"),
        (" a", "spaces"),
    ],
)
def test_validate(dotted: object, words: str) -> None:
    problem = paths.validate(dotted)
    assert problem is not None and words in problem


def test_validate_accepts_paths() -> None:
    assert paths.validate("_info.lastUpdated") is None
    assert paths.validate("items.0.id") is None
