"""Inbound webhook rows: every webhook received, kept as it arrived, with what became of it.

Outcomes: ``accepted`` (its events stored), ``duplicate`` (a message id already accepted for the
instance), ``unrouted`` (no instance matched), ``refused`` (bad signature, unreadable body) and
``ignored`` (its instance has webhook events off).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import tables

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
UNROUTED = "unrouted"
REFUSED = "refused"
IGNORED = "ignored"
CHANNEL = "headwater_deliveries"
"""The PostgreSQL channel notified when deliveries are waiting (see delivery.wakeup)."""

_t = tables.inbound_webhooks


@dataclasses.dataclass(frozen=True)
class Inbound:
    """One webhook as received."""

    received_at: dt.datetime
    element_key: str
    instance_id: int | None
    message_id: str | None
    outcome: str
    problem: str | None
    event_count: int
    content_type: str
    headers: Mapping[str, str]
    body: bytes


@dataclasses.dataclass(frozen=True)
class Stored(Inbound):
    id: int


async def insert(conn: AsyncConnection, row: Inbound) -> int:
    """Keep ``row``; returns its id."""
    values = {field.name: getattr(row, field.name) for field in dataclasses.fields(row)}
    values["headers"] = dict(row.headers)
    found: int | None = await conn.scalar(sa.insert(_t).values(**values).returning(_t.c.id))
    assert found is not None
    return found


async def accepted_before(conn: AsyncConnection, instance_id: int, message_id: str) -> bool:
    """Whether a webhook with ``message_id`` was accepted for the instance already."""
    query = (
        sa.select(_t.c.id)
        .where(
            _t.c.instance_id == instance_id,
            _t.c.message_id == message_id,
            _t.c.outcome == ACCEPTED,
        )
        .limit(1)
    )
    return (await conn.scalar(query)) is not None


async def page(
    conn: AsyncConnection, *, outcome: str, before_id: int | None, limit: int
) -> list[Stored]:
    """Webhooks with ``outcome``, newest first, below ``before_id``."""
    query = sa.select(_t).where(_t.c.outcome == outcome).order_by(_t.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(_t.c.id < before_id)
    return [_stored(row) for row in (await conn.execute(query)).all()]


async def of_instance(conn: AsyncConnection, instance_id: int, *, limit: int) -> list[Stored]:
    """The instance's webhooks, newest first."""
    query = (
        sa.select(_t).where(_t.c.instance_id == instance_id).order_by(_t.c.id.desc()).limit(limit)
    )
    return [_stored(row) for row in (await conn.execute(query)).all()]


async def purge(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Forget webhooks received before ``before``; returns how many."""
    result = await conn.execute(sa.delete(_t).where(_t.c.received_at < before))
    return int(result.rowcount or 0)


async def notify(conn: AsyncConnection) -> None:
    """Tell every listening process, when the transaction commits, that deliveries wait
    (PostgreSQL ``NOTIFY``; SQLite's one process is woken in memory)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))


def _stored(row: sa.Row[Any]) -> Stored:
    values = dict(row._mapping)
    values["body"] = bytes(values["body"])
    return Stored(**values)
