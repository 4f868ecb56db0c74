"""Event rows: inserted by the pollers, read newest first with a CEQL ``where``.

A ``where`` arrives parsed (:mod:`headwater.domain.ceql`) and is translated here into SQLAlchemy
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
from headwater.storage import filters, instances, tables

NEW = "NEW"
DISPATCHED = "DISPATCHED"
NOTIFIED = "NOTIFIED"
FAILED = "FAILED"
STATUSES = (NEW, DISPATCHED, NOTIFIED, FAILED)
EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")

Row = sa.Row[Any]
_e = tables.events
_d = tables.deliveries
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class NewEvent:
    """One change a poll found."""

    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime
    raw: Any


async def insert(
    conn: AsyncConnection,
    *,
    instance_id: int,
    element_key: str,
    hub_key: str,
    poll_date: dt.datetime,
    found: Sequence[NewEvent],
) -> list[int]:
    """Insert events (status NEW) in the given order; returns their ids in that order."""
    if not found:
        return []
    rows = [
        {
            "instance_id": instance_id,
            "element_key": element_key,
            "hub_key": hub_key,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "event_type": event.event_type,
            "date": event.date,
            "poll_date": poll_date,
            "status": NEW,
            "delivery_id": None,
            "raw": event.raw,
        }
        for event in found
    ]
    result = await conn.execute(
        sa.insert(_e).returning(_e.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result.all()]


def _columns() -> list[Any]:
    return [*_e.c, _d.c.notification_id]


def _joined() -> Any:
    return _e.join(_i, _i.c.id == _e.c.instance_id).outerjoin(_d, _d.c.id == _e.c.delivery_id)


async def page(
    conn: AsyncConnection,
    *,
    organization_id: int,
    instance_id: int | None,
    where: Sequence[ceql.Expr],
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Events of the organization (or of one of its instances), newest first, ids below
    ``before_id``, at most ``limit``; ``where`` over the fields of :data:`FIELDS`."""
    query = (
        sa.select(*_columns())
        .select_from(_joined())
        .where(_i.c.organization_id == organization_id, *translate(where))
        .order_by(_e.c.id.desc())
        .limit(limit)
    )
    if instance_id is not None:
        query = query.where(_e.c.instance_id == instance_id)
    if before_id is not None:
        query = query.where(_e.c.id < before_id)
    return list((await conn.execute(query)).all())


async def get(
    conn: AsyncConnection, *, organization_id: int, event_id: int, instance_id: int | None = None
) -> Row | None:
    """One event of the organization (of its instance ``instance_id`` when given); None when there
    is none (any id out of range included)."""
    if not 0 < event_id <= instances.MAX_ID:
        return None
    query = (
        sa.select(*_columns())
        .select_from(_joined())
        .where(_i.c.organization_id == organization_id, _e.c.id == event_id)
    )
    if instance_id is not None:
        query = query.where(_e.c.instance_id == instance_id)
    return (await conn.execute(query)).first()


# -- where ------------------------------------------------------------------------------------


FIELDS: filters.Fields = {
    "id": (_e.c.id, filters.whole),
    "instanceId": (_e.c.instance_id, filters.whole),
    "elementKey": (_e.c.element_key, filters.text),
    "hubKey": (_e.c.hub_key, filters.text),
    "objectType": (_e.c.object_type, filters.text),
    "objectId": (_e.c.object_id, filters.text),
    "eventType": (_e.c.event_type, filters.upper),
    "date": (_e.c.date, filters.date),
    "pollDate": (_e.c.poll_date, filters.date),
    "status": (_e.c.status, filters.upper),
    "notificationId": (_d.c.notification_id, filters.text),
    "deliveryId": (_e.c.delivery_id, filters.whole),
}
"""The fields a ``where`` may name: column and how its values are read."""


def translate(conditions: Sequence[ceql.Expr], *, field: str = "where") -> list[Any]:
    """SQLAlchemy expressions for ``conditions``; InputError naming every bad one."""
    return filters.translate(conditions, FIELDS, field=field)
