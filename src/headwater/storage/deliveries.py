"""Delivery rows (the outbox): statuses, the :class:`Delivery` and :class:`Attempt` values they
are read as, insert, release, and what sending to an instance needs.

A delivery is one notification to one URL. Its status is one of Cloud Elements' ``created``,
``retry``, ``delivered`` and ``queued`` (plus ``failed`` for a test notification that did not go
through). ``created`` and ``retry`` are *pending*: a worker may claim them once due, one at a time
per instance, in order (:mod:`headwater.storage.delivery_claims` claims them and records their
attempts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import instances, tables

CREATED = "created"
RETRY = "retry"
DELIVERED = "delivered"
QUEUED = "queued"
FAILED = "failed"
PENDING = (CREATED, RETRY)
OPERATIONS = "operations"
"""The ``kind`` of an operations notification (its own lane: never queued, failed when its
retries run out)."""
STATUSES = (CREATED, RETRY, DELIVERED, QUEUED, FAILED)

_d = tables.deliveries
_a = tables.attempts
_e = tables.events
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A delivery as stored: one notification to one URL, its status and its schedule."""

    id: int
    notification_id: str
    instance_id: int
    kind: str
    url: str
    body: str
    status: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def from_row(row: sa.Row[Any]) -> Delivery:
    """The :class:`Delivery` of a row selected with every column of ``deliveries``."""
    return Delivery(
        id=row.id,
        notification_id=row.notification_id,
        instance_id=row.instance_id,
        kind=row.kind,
        url=row.url,
        body=row.body,
        status=row.status,
        attempt_count=row.attempt_count,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One try at sending a delivery."""

    date: dt.datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    response: str | None


@dataclasses.dataclass(frozen=True)
class Target:
    """What the outbox needs to know about an instance."""

    element_key: str
    configuration: dict[str, Any]
    subscription_active: bool


# -- writing the outbox ------------------------------------------------------------------------


async def target(conn: AsyncConnection, instance_id: int) -> Target | None:
    """The instance's notification settings.

    No lock is taken: the poller's transaction that calls this holds others, and an instance row
    lock here could deadlock with an update of the instance. A delivery written as ``created``
    while the subscription is being deactivated is still held back:
    :func:`headwater.storage.delivery_claims.claim` only takes deliveries of active
    subscriptions, and the release lets it go in its turn.
    """
    query = sa.select(_i.c.element_key, _i.c.configuration, _i.c.subscription_active).where(
        _i.c.id == instance_id
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Target(
        element_key=row.element_key,
        configuration=dict(row.configuration or {}),
        subscription_active=bool(row.subscription_active),
    )


async def insert(
    conn: AsyncConnection,
    *,
    notification_id: str,
    instance_id: int,
    kind: str,
    url: str,
    body: str,
    status: str,
    now: dt.datetime,
    traceparent: str | None = None,
) -> int:
    """Insert a delivery (``created`` is due at once, ``queued`` waits for a release);
    ``traceparent`` joins its attempts to the trace of the poll that found its events."""
    return await _insert(
        conn,
        notification_id=notification_id,
        instance_id=instance_id,
        kind=kind,
        url=url,
        body=body,
        status=status,
        attempt_count=0,
        next_attempt_at=now if status in PENDING else None,
        last_error=None,
        at=now,
        traceparent=traceparent,
    )


async def _insert(
    conn: AsyncConnection,
    *,
    notification_id: str,
    instance_id: int,
    kind: str,
    url: str,
    body: str,
    status: str,
    attempt_count: int,
    next_attempt_at: dt.datetime | None,
    last_error: str | None,
    at: dt.datetime,
    traceparent: str | None = None,
) -> int:
    statement = (
        sa.insert(_d)
        .values(
            notification_id=notification_id,
            instance_id=instance_id,
            kind=kind,
            url=url,
            body=body,
            status=status,
            attempt_count=attempt_count,
            next_attempt_at=next_attempt_at,
            last_error=last_error,
            created_at=at,
            updated_at=at,
            traceparent=traceparent,
        )
        .returning(_d.c.id)
    )
    delivery_id = await conn.scalar(statement)
    assert delivery_id is not None
    return int(delivery_id)


async def add_attempt(conn: AsyncConnection, delivery_id: int, attempt: Attempt) -> None:
    """Store one attempt of the delivery."""
    await conn.execute(
        sa.insert(_a).values(
            delivery_id=delivery_id,
            date=attempt.date,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            response=attempt.response,
        )
    )


async def link_events(conn: AsyncConnection, delivery_id: int, event_ids: Sequence[int]) -> None:
    """Mark ``event_ids`` as carried by ``delivery_id``."""
    await conn.execute(sa.update(_e).where(_e.c.id.in_(event_ids)).values(delivery_id=delivery_id))


# -- release -----------------------------------------------------------------------------------


async def release(
    conn: AsyncConnection, delivery_ids: Iterable[int], *, now: dt.datetime
) -> list[int]:
    """Re-queue the given ``queued`` deliveries as ``created`` (due now, a fresh retry schedule)
    and reactivate their instances' subscriptions. Returns the ids released, in order."""
    ids = sorted(set(delivery_ids))
    if not ids:
        return []
    # the instances first (the lock order of storage.db): their subscriptions change below
    owners = sa.select(_d.c.instance_id).where(_d.c.id.in_(ids), _d.c.status == QUEUED)
    await instances.lock(conn, (await conn.execute(owners)).scalars().all(), change=True)
    result = await conn.execute(
        sa.update(_d)
        .where(_d.c.id.in_(ids), _d.c.status == QUEUED)
        .values(
            status=CREATED,
            attempt_count=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
        .returning(_d.c.id, _d.c.instance_id)
    )
    rows = result.all()
    instance_ids = sorted({row.instance_id for row in rows})
    if instance_ids:
        await conn.execute(
            sa.update(_i)
            .where(_i.c.id.in_(instance_ids))
            .values(subscription_active=True, updated_at=now)
        )
    return sorted(row.id for row in rows)


# -- sending -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sending:
    """What sending to an instance needs: its configuration and its sealed secrets."""

    element_key: str
    configuration: dict[str, Any]
    sealed_secrets: str
    # a rotation's previous signature key (sealed), which signs too until ``overlap_until``
    sealed_previous_key: str | None = None
    overlap_until: dt.datetime | None = None


async def sending(
    conn: AsyncConnection, instance_id: int, *, organization_id: int | None = None
) -> Sending | None:
    """The instance's configuration and sealed secrets (scoped to an organization when given)."""
    query = sa.select(
        _i.c.element_key,
        _i.c.configuration,
        _i.c.secrets,
        _i.c.previous_signature_key,
        _i.c.signature_overlap_until,
    ).where(_i.c.id == instance_id)
    if organization_id is not None:
        query = query.where(_i.c.organization_id == organization_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Sending(
        element_key=row.element_key,
        configuration=dict(row.configuration or {}),
        sealed_secrets=row.secrets,
        sealed_previous_key=row.previous_signature_key,
        overlap_until=row.signature_overlap_until,
    )


async def set_url(conn: AsyncConnection, delivery_id: int, url: str) -> None:
    """Where the delivery now goes (the instance's callback URL changed)."""
    await conn.execute(sa.update(_d).where(_d.c.id == delivery_id).values(url=url))


async def insert_finished(
    conn: AsyncConnection,
    *,
    notification_id: str,
    instance_id: int,
    kind: str,
    url: str,
    body: str,
    status: str,
    attempt: Attempt,
    error: str | None,
) -> int:
    """A delivery sent outside the queue (a test), stored with its one attempt."""
    delivery_id = await _insert(
        conn,
        notification_id=notification_id,
        instance_id=instance_id,
        kind=kind,
        url=url,
        body=body,
        status=status,
        attempt_count=1,
        next_attempt_at=None,
        last_error=error,
        at=attempt.date,
    )
    await add_attempt(conn, delivery_id, attempt)
    return delivery_id
