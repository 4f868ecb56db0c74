"""Notification subscriptions as rows: each instance with a callback URL, and its queue figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import deliveries, tables

_d = tables.deliveries
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class Queue:
    """How many of an instance's notifications wait, by status."""

    pending: int = 0
    retrying: int = 0
    queued: int = 0


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """An instance, as far as its subscription shows it."""

    id: int
    element_key: str
    configuration: dict[str, Any]
    subscription_active: bool
    events_enabled: bool


async def instances_page(
    conn: AsyncConnection,
    *,
    organization_id: int,
    after_id: int | None,
    limit: int,
    instance_id: int | None = None,
) -> list[Subscriber]:
    """The organization's instances in id order after ``after_id`` (only ``instance_id`` when
    given), at most ``limit``."""
    query = (
        sa.select(
            _i.c.id,
            _i.c.element_key,
            _i.c.configuration,
            _i.c.subscription_active,
            _i.c.events_enabled,
        )
        .where(_i.c.organization_id == organization_id)
        .order_by(_i.c.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(_i.c.id > after_id)
    if instance_id is not None:
        query = query.where(_i.c.id == instance_id)
    return [
        Subscriber(
            id=row.id,
            element_key=row.element_key,
            configuration=dict(row.configuration or {}),
            subscription_active=bool(row.subscription_active),
            events_enabled=bool(row.events_enabled),
        )
        for row in (await conn.execute(query)).all()
    ]


def _counted(status: str) -> Any:
    return sa.func.sum(sa.case((_d.c.status == status, 1), else_=0))


async def queues(conn: AsyncConnection, instance_ids: Sequence[int]) -> dict[int, Queue]:
    """The waiting notifications of each of ``instance_ids`` (every one of them answered)."""
    found = {instance_id: Queue() for instance_id in instance_ids}
    if not instance_ids:
        return found
    query = (
        sa.select(
            _d.c.instance_id,
            _counted(deliveries.CREATED).label("pending"),
            _counted(deliveries.RETRY).label("retrying"),
            _counted(deliveries.QUEUED).label("queued"),
        )
        .where(
            _d.c.instance_id.in_(instance_ids),
            _d.c.status.in_((deliveries.CREATED, deliveries.RETRY, deliveries.QUEUED)),
            _d.c.kind != deliveries.OPERATIONS,  # the organization's, not the subscription's
        )
        .group_by(_d.c.instance_id)
    )
    for row in (await conn.execute(query)).all():
        found[row.instance_id] = Queue(
            pending=int(row.pending or 0),
            retrying=int(row.retrying or 0),
            queued=int(row.queued or 0),
        )
    return found
