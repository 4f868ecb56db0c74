"""Which records of a poll become events, and of which type (DESIGN.md §3).

A record is reported when its version (updated date and content hash) differs from the last one
this poller emitted for it. A version older than the one emitted (a stale read) is not reported
again. CREATED or UPDATED follows :func:`headwater.domain.changes.classify`, except that a record
without a created date (an empty one) that an ids-only listing already showed is UPDATED: it
existed before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from headwater.domain import changes, records

LISTED_ONLY = ""
"""The content hash of a record known only from an ids-only listing (never emitted)."""
HEARD = "webhook:"
"""The content hash of a version a webhook announced without the record (its date only): a
read of the record at that date or before is that version, whatever its content."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One event to store."""

    seen: records.Seen
    event_type: str


def emitted(version: changes.Known | None) -> changes.Version | None:
    """The last version emitted for a record, if any (listed-only and deleted ones are not)."""
    if version is None or version.deleted or version.content_hash == LISTED_ONLY:
        return None
    return changes.Version(version.updated_ms, version.content_hash)


def covers(last: changes.Version, current: changes.Version) -> bool:
    """Whether announcing ``last`` announced ``current`` too: the same version, an older one,
    or one a webhook announced by its date only (:data:`HEARD`) that is no newer."""
    if last == current:
        return True
    if last.updated_ms is None or current.updated_ms is None:
        return False
    if current.updated_ms < last.updated_ms:
        return True
    heard = HEARD in (last.content_hash, current.content_hash)
    return heard and current.updated_ms == last.updated_ms


def detect(
    seen: Iterable[records.Seen],
    known: Mapping[str, changes.Known],
    *,
    cursor: dt.datetime,
    tolerance_seconds: float,
    start: dt.datetime | None = None,
) -> list[Change]:
    """The changes among ``seen``, oldest first (ties by id); ``start`` is the poller's start
    (records created before it are never CREATED)."""
    found: list[Change] = []
    for record in seen:
        last = emitted(known.get(record.object_id))
        current = record.version()
        if last is not None and covers(last, current):
            continue
        if last is None and record.created is None and record.object_id in known:
            # no created date to go by, but a listing showed the record before: not new
            found.append(Change(record, "UPDATED"))
            continue
        kind = changes.classify(
            previous=last,
            created=record.created,
            updated=record.updated,
            cursor=cursor,
            tolerance_s=tolerance_seconds,
            start=start,
        )
        found.append(Change(record, kind))
    found.sort(key=lambda c: (c.seen.date_ms or 0, c.seen.object_id))
    return found
