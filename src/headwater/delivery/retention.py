"""Retention: events, deliveries, attempts and inbound webhooks older than
``HEADWATER_RETENTION_DAYS`` are purged.

Nothing undelivered is purged: a queued delivery (or one still retrying) stays with its events and
attempts until it is delivered, however old. Rows go in small batches, each its own short
transaction, so a large purge never holds the database for long.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.storage import db, delivery_log, inbound

BATCH = 500

_Step = Callable[[AsyncConnection], Awaitable[int]]


@dataclasses.dataclass(frozen=True)
class Purged:
    events: int
    deliveries: int


async def purge(
    engine: AsyncEngine, *, now: dt.datetime, retention_days: float, batch: int = BATCH
) -> Purged:
    """Delete what is older than ``retention_days`` before ``now``; counts of rows deleted."""
    before = now - dt.timedelta(days=retention_days)

    def old_events(conn: AsyncConnection) -> Awaitable[int]:
        return delivery_log.purge_events(conn, before=before, batch=batch)

    def old_deliveries(conn: AsyncConnection) -> Awaitable[int]:
        return delivery_log.purge_deliveries(conn, before=before, batch=batch)

    events = await _drain(engine, old_events, batch)
    sent = await _drain(engine, old_deliveries, batch)
    # inbound webhooks (unrouted ones included) are kept as long as events
    await db.write(engine, lambda conn: inbound.purge(conn, before=before))
    return Purged(events=events, deliveries=sent)


async def _drain(engine: AsyncEngine, step: _Step, batch: int) -> int:
    total = 0
    while True:
        count = await db.write(engine, step)
        total += count
        if count < batch:
            return total
