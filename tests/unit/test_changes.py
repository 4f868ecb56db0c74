from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from headwater.domain import changes
from headwater.domain.changes import Version

CURSOR = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
BEFORE = CURSOR - timedelta(hours=1)
AFTER = CURSOR + timedelta(minutes=1)
SEEN = Version(updated_ms=1, content_hash="h")


def test_content_hash_ignores_key_order_and_spacing() -> None:
    one = changes.content_hash({"a": 1, "b": {"y": [1, 2], "x": "é"}})
    two = changes.content_hash({"b": {"x": "é", "y": [1, 2]}, "a": 1})
    assert one == two
    assert len(one) == 64 and int(one, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [{"a": 2}, {"a": "1"}, {"a": 1, "b": None}, {"A": 1}, {"a": [1]}, {"a": 1.5}],
)
def test_content_hash_sees_every_change(other: dict[str, object]) -> None:
    assert changes.content_hash({"a": 1}) != changes.content_hash(other)


def test_content_hash_is_sha256_of_canonical_json() -> None:
    # Hashes are stored: one release must compute the same value as the next.
    canonical = '{"a":"x","b":2,"c":"é"}'.encode()
    assert (
        changes.content_hash({"c": "é", "b": 2, "a": "x"}) == hashlib.sha256(canonical).hexdigest()
    )
    assert changes.content_hash({"b": 2, "a": "x"}) == (
        "768ca668c0f84dd39bf269e25c9a3f0af4812e41026b6fead9a2666078ef16f6"
    )


@pytest.mark.parametrize(
    ("previous", "current", "emit"),
    [
        (None, Version(5, "h"), True),
        (Version(5, "h"), Version(5, "h"), False),
        (Version(5, "h"), Version(6, "h"), True),
        (Version(5, "h"), Version(5, "g"), True),
        (Version(None, "h"), Version(None, "h"), False),
        (Version(None, "h"), Version(None, "g"), True),
    ],
)
def test_decide(previous: Version | None, current: Version, emit: bool) -> None:
    assert changes.decide(previous, current) is emit


@pytest.mark.parametrize(
    ("previous", "created", "updated", "tolerance", "expected"),
    [
        # new to the poller and created since the cursor
        (None, AFTER, AFTER, 0, "CREATED"),
        (None, CURSOR, CURSOR, 0, "CREATED"),
        # created and then edited between two polls: still CREATED (no one was told it exists)
        (None, AFTER, AFTER + timedelta(seconds=30), 0, "CREATED"),
        # no created date: new to the poller means created
        (None, None, AFTER, 0, "CREATED"),
        (None, None, None, 0, "CREATED"),
        # created before the cursor, dates equal or within the tolerance
        (None, BEFORE, BEFORE, 0, "CREATED"),
        (None, BEFORE, BEFORE + timedelta(seconds=2), 2.0, "CREATED"),
        (None, BEFORE, BEFORE - timedelta(seconds=2), 2.0, "CREATED"),
        # created before the cursor and edited since: UPDATED
        (None, BEFORE, AFTER, 0, "UPDATED"),
        (None, BEFORE, BEFORE + timedelta(seconds=2.001), 2.0, "UPDATED"),
        (None, BEFORE, None, 0, "UPDATED"),
        # a record this poller already reported is UPDATED, whatever its dates say
        (SEEN, AFTER, AFTER, 0, "UPDATED"),
        (SEEN, None, None, 0, "UPDATED"),
        (SEEN, BEFORE, BEFORE, 5, "UPDATED"),
    ],
)
def test_classify(
    previous: Version | None,
    created: datetime | None,
    updated: datetime | None,
    tolerance: float,
    expected: str,
) -> None:
    found = changes.classify(
        previous=previous, created=created, updated=updated, cursor=CURSOR, tolerance_s=tolerance
    )
    assert found == expected


@pytest.mark.parametrize(
    ("created", "updated", "tolerance", "expected"),
    [
        # created after the poller's start: new to it
        (BEFORE, BEFORE, 0, "CREATED"),
        (BEFORE, AFTER, 0, "UPDATED"),
        # created before the start: it existed when the poller started, whatever the tolerance
        (BEFORE - timedelta(seconds=1), BEFORE + timedelta(seconds=1), 5.0, "UPDATED"),
        (BEFORE - timedelta(seconds=1), AFTER, 0, "UPDATED"),
        (None, AFTER, 0, "CREATED"),
    ],
)
def test_a_record_created_before_the_pollers_start_is_never_created(
    created: datetime | None, updated: datetime | None, tolerance: float, expected: str
) -> None:
    found = changes.classify(
        previous=None,
        created=created,
        updated=updated,
        cursor=CURSOR,
        tolerance_s=tolerance,
        start=BEFORE,
    )
    assert found == expected
