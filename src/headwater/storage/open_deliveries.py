"""The instance's newest notification while no attempt has taken it: events may still join it.

Webhooks arrive one change at a time; while an instance's notification waits its turn (one in
flight per instance), the next changes join it, up to the batch size, instead of queuing one
notification each behind it. A notification joined is one not yet claimed by a worker (no
lease), never attempted, still ``created``, and the newest of its instance, so the order of the
instance's events is kept. On PostgreSQL its row is locked ``FOR NO KEY UPDATE`` (the lock order
of :mod:`headwater.storage.db`: after the instance); a worker claiming it meanwhile skips it.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import deliveries, tables

_d = tables.deliveries


@dataclasses.dataclass(frozen=True)
class Open:
    id: int
    notification_id: str
    url: str
    body: str


async def tail(conn: AsyncConnection, instance_id: int, *, kind: str) -> Open | None:
    """The instance's newest delivery, when events may still join it."""
    query = (
        sa.select(
            _d.c.id,
            _d.c.notification_id,
            _d.c.url,
            _d.c.body,
            _d.c.kind,
            _d.c.status,
            _d.c.attempt_count,
            _d.c.lease_owner,
        )
        .where(_d.c.instance_id == instance_id)
        .order_by(_d.c.id.desc())
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    row = (await conn.execute(query)).first()
    if row is None or row.kind != kind or row.status != deliveries.CREATED:
        return None
    if row.attempt_count or row.lease_owner is not None:
        return None
    return Open(row.id, row.notification_id, row.url, row.body)


async def rewrite(conn: AsyncConnection, delivery_id: int, body: str) -> None:
    """Replace the body of a delivery no attempt has taken (see :func:`tail`)."""
    await conn.execute(sa.update(_d).where(_d.c.id == delivery_id).values(body=body))
