"""The delivery log: deliveries read with a CEQL ``where``, their attempts, queue figures, and the
purge of what retention lets go.

A ``where`` arrives parsed (:mod:`headwater.domain.ceql`) and is translated into SQLAlchemy
expressions over known fields only; no SQL is ever built from its text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import ceql
from headwater.storage import db, deliveries, filters, tables

Attempt = deliveries.Attempt
Delivery = deliveries.Delivery
_d = tables.deliveries
_a = tables.attempts
_e = tables.events
_i = tables.instances
UNDELIVERED = (deliveries.CREATED, deliveries.RETRY, deliveries.QUEUED)


# -- reading -----------------------------------------------------------------------------------


FIELDS: filters.Fields = {
    "id": (_d.c.id, filters.whole),
    "notificationId": (_d.c.notification_id, filters.text),
    "instanceId": (_d.c.instance_id, filters.whole),
    "kind": (_d.c.kind, filters.lower),
    "url": (_d.c.url, filters.text),
    "config.url": (_d.c.url, filters.text),
    "channel": (sa.literal("webhook", sa.String), filters.lower),
    "status": (_d.c.status, filters.lower),
    "attemptCount": (_d.c.attempt_count, filters.whole),
    "nextAttemptDate": (_d.c.next_attempt_at, filters.date),
    "createdDate": (_d.c.created_at, filters.date),
    "updatedDate": (_d.c.updated_at, filters.date),
}
"""The fields a deliveries ``where`` may name (``config.url`` and ``channel`` as Cloud Elements
clients write them: ``channel='webhook' and status='queued'``)."""


def translate(conditions: Sequence[ceql.Expr], *, field: str = "where") -> list[Any]:
    """SQLAlchemy expressions for ``conditions`` over :data:`FIELDS`; InputError naming every bad
    one."""
    return filters.translate(conditions, FIELDS, field=field)


def _scoped(organization_id: int) -> sa.ColumnElement[bool]:
    return _d.c.instance_id.in_(
        sa.select(_i.c.id).where(_i.c.organization_id == organization_id).scalar_subquery()
    )


async def page(
    conn: AsyncConnection,
    *,
    organization_id: int,
    where: Sequence[Any],
    before_id: int | None,
    limit: int,
) -> list[Delivery]:
    """The organization's deliveries matching ``where``, newest first, below ``before_id``."""
    query = sa.select(_d).where(_scoped(organization_id), *where)
    if before_id is not None:
        query = query.where(_d.c.id < before_id)
    result = await conn.execute(query.order_by(_d.c.id.desc()).limit(limit))
    return [deliveries.from_row(row) for row in result.all()]


async def ids_matching(
    conn: AsyncConnection, *, organization_id: int, where: Sequence[Any], status: str
) -> list[int]:
    """Ids of the organization's deliveries with ``status`` that match ``where``."""
    query = sa.select(_d.c.id).where(_scoped(organization_id), _d.c.status == status, *where)
    return list((await conn.execute(query.order_by(_d.c.id))).scalars().all())


async def by_ids(conn: AsyncConnection, delivery_ids: Sequence[int]) -> list[Delivery]:
    """The deliveries among ``delivery_ids`` that exist, in id order."""
    if not delivery_ids:
        return []
    query = sa.select(_d).where(_d.c.id.in_(delivery_ids)).order_by(_d.c.id)
    return [deliveries.from_row(row) for row in (await conn.execute(query)).all()]


async def attempts_of(
    conn: AsyncConnection, delivery_ids: Sequence[int]
) -> dict[int, list[Attempt]]:
    """Each delivery's attempts, oldest first."""
    found: dict[int, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    query = sa.select(_a).where(_a.c.delivery_id.in_(delivery_ids)).order_by(_a.c.id)
    for row in (await conn.execute(query)).all():
        found[row.delivery_id].append(
            Attempt(
                date=row.date,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                error=row.error,
                response=row.response,
            )
        )
    return found


@dataclasses.dataclass(frozen=True)
class QueueStats:
    """What the metrics show of the outbox."""

    by_status: dict[str, int]
    oldest_undelivered: dt.datetime | None


async def stats(conn: AsyncConnection) -> QueueStats:
    """Counts of undelivered deliveries by status, and when the oldest of them was created."""
    undelivered = UNDELIVERED
    query = (
        sa.select(_d.c.status, sa.func.count(), sa.func.min(_d.c.created_at))
        .where(_d.c.status.in_(undelivered))
        .group_by(_d.c.status)
    )
    by_status = dict.fromkeys(undelivered, 0)
    oldest: dt.datetime | None = None
    for status, count, first in (await conn.execute(query)).all():
        by_status[status] = int(count)
        if isinstance(first, dt.datetime):
            first_at = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
            oldest = first_at if oldest is None else min(oldest, first_at)
    return QueueStats(by_status=by_status, oldest_undelivered=oldest)


# -- retention ---------------------------------------------------------------------------------


async def purge_events(conn: AsyncConnection, *, before: dt.datetime, batch: int) -> int:
    """Delete up to ``batch`` events found before ``before``, except those awaiting delivery."""
    undelivered = sa.select(_d.c.id).where(_d.c.status.in_(UNDELIVERED))
    old = (
        sa.select(_e.c.id)
        .where(
            _e.c.poll_date < before,
            sa.or_(_e.c.delivery_id.is_(None), _e.c.delivery_id.not_in(undelivered)),
        )
        .limit(db.written_limit(batch))
    )
    result = await conn.execute(sa.delete(_e).where(_e.c.id.in_(old.scalar_subquery())))
    return int(result.rowcount)


async def purge_deliveries(conn: AsyncConnection, *, before: dt.datetime, batch: int) -> int:
    """Delete up to ``batch`` finished deliveries created before ``before`` (attempts cascade)."""
    old = (
        sa.select(_d.c.id)
        .where(_d.c.created_at < before, _d.c.status.in_((deliveries.DELIVERED, deliveries.FAILED)))
        .order_by(_d.c.id)
        .limit(batch)
        .with_for_update()  # the deliveries before their attempts and events (storage.db)
    )
    ids = list((await conn.execute(old)).scalars().all())
    if not ids:
        return 0
    # explicit, so that a SQLite connection without foreign keys enforced leaves no orphans
    await conn.execute(sa.delete(_a).where(_a.c.delivery_id.in_(ids)))
    await conn.execute(sa.update(_e).where(_e.c.delivery_id.in_(ids)).values(delivery_id=None))
    result = await conn.execute(sa.delete(_d).where(_d.c.id.in_(ids)))
    return int(result.rowcount)
