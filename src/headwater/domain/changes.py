"""Change detection: record versions, whether to emit, and CREATED or UPDATED.

A record's version is its updated date (epoch milliseconds) and the hash of its content. A poll
emits an event for a record whose version differs from the last one this poller emitted for it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

EventType = Literal["CREATED", "UPDATED"]


@dataclasses.dataclass(frozen=True)
class Version:
    """What a poller remembers of a record it emitted."""

    updated_ms: int | None
    content_hash: str


@dataclasses.dataclass(frozen=True)
class Known:
    """What a poller remembers of a record: the version last emitted (``updated_ms`` None when
    only its id was listed), and whether it is known to be deleted."""

    updated_ms: int | None
    content_hash: str
    deleted: bool = False


def content_hash(record: Mapping[str, object]) -> str:
    """The SHA-256 (hex) of ``record`` as canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def decide(previous: Version | None, current: Version) -> bool:
    """Whether ``current`` is worth an event: the record is new or its version changed."""
    return previous != current


def classify(
    *,
    previous: Version | None,
    created: datetime | None,
    updated: datetime | None,
    cursor: datetime,
    tolerance_s: float,
    start: datetime | None = None,
) -> EventType:
    """CREATED or UPDATED, as DESIGN §3 says.

    UPDATED when this poller emitted the record before, or the record was created before the
    poller's ``start`` (it existed when the poller started, whatever ``tolerance_s`` says).
    Otherwise CREATED when it was created at or after the cursor (the previous poll's time), or
    its created and updated dates agree within ``tolerance_s``, or it has no created date;
    UPDATED otherwise. Unlike Cloud Elements, a record created and then edited between two polls
    is CREATED: no one was told it exists.
    """
    if previous is not None:
        return "UPDATED"
    if created is not None and start is not None and created < start:
        return "UPDATED"
    if created is None or created >= cursor:
        return "CREATED"
    if updated is not None and abs((updated - created).total_seconds()) <= tolerance_s:
        return "CREATED"
    return "UPDATED"
