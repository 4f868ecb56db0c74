"""Reading every page of one poll: the records in its window, the newest date, and whether the
pages shifted under it.

The hub checks that each continuation page lines up with the last record of the previous one
and raises ``ConflictError`` when rows moved. The target is then read once more from its first
page; if that read shifts too, the poll is *shifted* and must not move the cursor, but it reads
on: the page that showed the shift is kept (its rows are real sightings of those records; the
hub reads it from far enough back that rows which deletes moved up are not skipped) and the pages
after it are read, so that every version current while the poll paged is reported. The next poll
reads the same window again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from headwater.domain import config, records
from headwater.elements import base
from headwater.errors import ConflictError
from headwater.poller import fanout

MAX_READS = 2


@dataclasses.dataclass
class Harvest:
    """What one poll read: the latest sighting of each record inside the window."""

    seen: dict[str, records.Seen] = dataclasses.field(default_factory=dict)
    high_water_ms: int | None = None
    shifted: bool = False
    pages: int = 0
    rereads: int = 0  # targets read again because their pages shifted

    def keep(self, seen: records.Seen) -> None:
        # a record read twice (pages moved) counts as its later sighting
        self.seen.pop(seen.object_id, None)
        self.seen[seen.object_id] = seen
        date_ms = seen.date_ms
        if date_ms is not None and (self.high_water_ms is None or date_ms > self.high_water_ms):
            self.high_water_ms = date_ms


async def read(
    hub: base.Hub,
    resource: config.Resource,
    targets: Sequence[fanout.Target],
    *,
    window_start_ms: int,
    upper_ms: int | None,
) -> Harvest:
    """Every page of every target. Records dated before ``window_start_ms`` (or after
    ``upper_ms``, with ``filterByCurrentDate``) are left out; a record that cannot be read raises
    ``RecordError``; provider errors propagate."""
    harvest = Harvest()
    page_size = resource.page_size or base.DEFAULT_PAGE_SIZE
    for target in targets:
        for attempt in range(MAX_READS):
            last = attempt == MAX_READS - 1
            try:
                await _read_target(
                    hub,
                    resource,
                    target.url,
                    harvest,
                    page_size,
                    window_start_ms,
                    upper_ms,
                    read_on=last,
                )
                break
            except ConflictError:
                if last:
                    harvest.shifted = True
                else:
                    harvest.rereads += 1
    return harvest


async def _read_target(
    hub: base.Hub,
    resource: config.Resource,
    url: str,
    harvest: Harvest,
    page_size: int,
    window_start_ms: int,
    upper_ms: int | None,
    *,
    read_on: bool,
) -> None:
    """Every page of one target; with ``read_on``, pages that shifted are kept and read past
    (the harvest is marked shifted) instead of raising."""
    token: str | None = None
    number = 0
    while True:
        number += 1
        try:
            page = await hub.fetch(
                url, page_size=page_size, page_token=token, read_past_shift=read_on
            )
        except base.PagesShifted as shift:
            if not read_on:
                raise
            harvest.shifted = True
            page = shift.page
        harvest.pages += 1
        for index, record in enumerate(page.records, start=1):
            seen = records.read(record, resource, where=f"record {index} of page {number} of {url}")
            date_ms = seen.date_ms
            if date_ms is not None and (
                date_ms < window_start_ms or (upper_ms is not None and date_ms > upper_ms)
            ):
                continue
            harvest.keep(seen)
        token = page.next_token
        if token is None:
            return
