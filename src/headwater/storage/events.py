"""Event rows: inserted by the pollers, read newest first with a CEQL ``where``, and read by the
outbox that carries them (as :class:`Event` values, never rows).

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


@dataclasses.dataclass(frozen=True)
class Event:
    """A stored event, with the notification that carried it (None until it is in one)."""

    id: int
    instance_id: int
    element_key: str
    hub_key: str
    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime
    poll_date: dt.datetime
    status: str
    delivery_id: int | None
    notification_id: str | None
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
    if conn.dialect.name == "sqlite":
        # SQLAlchemy would send one INSERT per row to keep RETURNING in order; one statement for
        # all of them gives each row the next rowid, so the ids in ascending order are in order
        result = await conn.execute(sa.insert(_e).returning(_e.c.id), rows)
        return sorted(row.id for row in result.all())
    result = await conn.execute(
        sa.insert(_e).returning(_e.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result.all()]


def _select(source: sa.FromClause) -> sa.Select[Any]:
    return sa.select(*_e.c, _d.c.notification_id).select_from(source)


def _joined() -> sa.FromClause:
    return _e.join(_i, _i.c.id == _e.c.instance_id).outerjoin(_d, _d.c.id == _e.c.delivery_id)


def _with_delivery() -> sa.FromClause:
    return _e.outerjoin(_d, _d.c.id == _e.c.delivery_id)


def _event(row: sa.Row[Any]) -> Event:
    return Event(
        id=row.id,
        instance_id=row.instance_id,
        element_key=row.element_key,
        hub_key=row.hub_key,
        object_type=row.object_type,
        object_id=row.object_id,
        event_type=row.event_type,
        date=row.date,
        poll_date=row.poll_date,
        status=row.status,
        delivery_id=row.delivery_id,
        notification_id=row.notification_id,
        raw=row.raw,
    )


async def _events(conn: AsyncConnection, query: sa.Select[Any]) -> list[Event]:
    return [_event(row) for row in (await conn.execute(query)).all()]


async def page(
    conn: AsyncConnection,
    *,
    organization_id: int,
    instance_id: int | None,
    where: Sequence[ceql.Expr],
    before_id: int | None,
    limit: int,
) -> list[Event]:
    """Events of the organization (or of one of its instances), newest first, ids below
    ``before_id``, at most ``limit``; ``where`` over the fields of :data:`FIELDS`."""
    query = (
        _select(_joined())
        .where(_i.c.organization_id == organization_id, *translate(where))
        .order_by(_e.c.id.desc())
        .limit(limit)
    )
    if instance_id is not None:
        query = query.where(_e.c.instance_id == instance_id)
    if before_id is not None:
        query = query.where(_e.c.id < before_id)
    return await _events(conn, query)


async def get(
    conn: AsyncConnection, *, organization_id: int, event_id: int, instance_id: int | None = None
) -> Event | None:
    """One event of the organization (of its instance ``instance_id`` when given); None when there
    is none (any id out of range included)."""
    if not 0 < event_id <= instances.MAX_ID:
        return None
    query = _select(_joined()).where(_i.c.organization_id == organization_id, _e.c.id == event_id)
    if instance_id is not None:
        query = query.where(_e.c.instance_id == instance_id)
    found = await _events(conn, query)
    return found[0] if found else None


# -- events the outbox carries -----------------------------------------------------------------


async def between(
    conn: AsyncConnection,
    instance_id: int,
    *,
    start: dt.datetime,
    end: dt.datetime,
    where: Sequence[Any],
    limit: int,
) -> list[Event]:
    """The instance's events dated in [``start``, ``end``) that match ``where`` (expressions made
    by :func:`translate`), in id order, at most ``limit``."""
    query = (
        _select(_with_delivery())
        .where(_e.c.instance_id == instance_id, _e.c.date >= start, _e.c.date < end, *where)
        .order_by(_e.c.id)
        .limit(limit)
    )
    return await _events(conn, query)


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
