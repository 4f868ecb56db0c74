"""Delivery rows (the outbox) and their attempts: insert, claim with leases, record, release.

A delivery is one notification to one URL. Its status is one of Cloud Elements' ``created``,
``retry``, ``delivered`` and ``queued`` (plus ``failed`` for a test notification that did not go
through). ``created`` and ``retry`` are *pending*: a worker may claim them once due. Only the head
of each instance's pending queue is claimable, so an instance has one notification in flight and
its notifications go out in order; a head waiting on retries holds back its own instance only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import tables

CREATED = "created"
RETRY = "retry"
DELIVERED = "delivered"
QUEUED = "queued"
FAILED = "failed"
PENDING = (CREATED, RETRY)
STATUSES = (CREATED, RETRY, DELIVERED, QUEUED, FAILED)

Row = sa.Row[Any]
_d = tables.deliveries
_a = tables.attempts
_e = tables.events
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds the lease of."""

    id: int
    notification_id: str
    instance_id: int
    kind: str
    url: str
    body: str
    attempt_count: int


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
    while the subscription is being deactivated is still held back: :func:`claim` only takes
    deliveries of active subscriptions, and the release lets it go in its turn.
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
) -> int:
    """Insert a delivery (``created`` is due at once, ``queued`` waits for a release)."""
    delivery_id = await conn.scalar(
        sa.insert(_d)
        .values(
            notification_id=notification_id,
            instance_id=instance_id,
            kind=kind,
            url=url,
            body=body,
            status=status,
            attempt_count=0,
            next_attempt_at=now if status in PENDING else None,
            created_at=now,
            updated_at=now,
        )
        .returning(_d.c.id)
    )
    assert delivery_id is not None
    return int(delivery_id)


async def link_events(conn: AsyncConnection, delivery_id: int, event_ids: Sequence[int]) -> None:
    """Mark ``event_ids`` as carried by ``delivery_id``."""
    await conn.execute(sa.update(_e).where(_e.c.id.in_(event_ids)).values(delivery_id=delivery_id))


# -- claiming and recording --------------------------------------------------------------------


async def claim(
    conn: AsyncConnection, *, owner: str, now: dt.datetime, until: dt.datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, each the head of its instance's queue; one statement.

    An expired lease (a worker died mid-send) is taken over. Uses ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL; on SQLite the transaction holds the write lock (``BEGIN IMMEDIATE``).
    """
    if limit <= 0:
        return []
    candidate = _d.alias("candidate")
    earlier = _d.alias("earlier")
    owner_instance = _i.alias("owner_instance")
    held_back = sa.exists().where(
        earlier.c.instance_id == candidate.c.instance_id,
        earlier.c.status.in_(PENDING),
        earlier.c.id < candidate.c.id,
    )
    active = sa.exists().where(
        owner_instance.c.id == candidate.c.instance_id,
        owner_instance.c.subscription_active.is_(True),
    )
    due = (
        sa.select(candidate.c.id)
        .where(
            candidate.c.status.in_(PENDING),
            candidate.c.next_attempt_at <= now,
            sa.or_(candidate.c.lease_until.is_(None), candidate.c.lease_until < now),
            active,
            ~held_back,
        )
        .order_by(candidate.c.next_attempt_at, candidate.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=candidate)
    result = await conn.execute(
        sa.update(_d)
        .where(_d.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until)
        .returning(
            _d.c.id,
            _d.c.notification_id,
            _d.c.instance_id,
            _d.c.kind,
            _d.c.url,
            _d.c.body,
            _d.c.attempt_count,
        )
    )
    claimed = [Claimed(**row._mapping) for row in result.all()]
    return sorted(claimed, key=lambda c: c.id)


async def record_attempt(
    conn: AsyncConnection, delivery_id: int, *, owner: str, attempt: Attempt
) -> bool:
    """Store ``attempt`` and mark the delivery's events DISPATCHED; False when the lease was lost.

    The attempt is stored either way (it happened); a lost lease means another worker owns the
    delivery's status now.
    """
    row = (await conn.execute(sa.select(_d.c.lease_owner).where(_d.c.id == delivery_id))).first()
    if row is None:
        return False  # the instance (and so the delivery) was deleted meanwhile
    held: bool = row.lease_owner == owner
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
    await conn.execute(
        sa.update(_e)
        .where(_e.c.delivery_id == delivery_id, _e.c.status == "NEW")
        .values(status="DISPATCHED")
    )
    return held


async def mark_delivered(
    conn: AsyncConnection, delivery_id: int, *, owner: str, now: dt.datetime
) -> None:
    """The receiver took it: ``delivered``, its events NOTIFIED."""
    await _finish(conn, delivery_id, owner, now, status=DELIVERED, next_at=None, error=None)
    await conn.execute(
        sa.update(_e).where(_e.c.delivery_id == delivery_id).values(status="NOTIFIED")
    )


async def mark_retry(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    owner: str,
    now: dt.datetime,
    at: dt.datetime,
    error: str | None,
) -> None:
    """Another attempt is due at ``at``; the instance's later notifications wait for it."""
    await _finish(conn, delivery_id, owner, now, status=RETRY, next_at=at, error=error)


async def mark_failed(
    conn: AsyncConnection, delivery_id: int, *, owner: str, now: dt.datetime, error: str | None
) -> None:
    """A delivery outside the instance's queue (a test) did not go through."""
    await _finish(conn, delivery_id, owner, now, status=FAILED, next_at=None, error=error)


async def give_up(
    conn: AsyncConnection,
    delivery_id: int,
    instance_id: int,
    *,
    now: dt.datetime,
    error: str | None,
) -> list[int]:
    """Retries ran out (or the receiver said 410): deactivate the subscription and queue.

    The delivery's events become FAILED. This delivery and every pending one of the instance are
    ``queued`` until released. Returns the ids now queued.
    """
    await conn.execute(
        sa.update(_i)
        .where(_i.c.id == instance_id)
        .values(subscription_active=False, updated_at=now)
    )
    await conn.execute(
        sa.update(_d)
        .where(_d.c.id == delivery_id)
        .values(
            status=QUEUED,
            attempt_count=_d.c.attempt_count + 1,
            next_attempt_at=None,
            last_error=error,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )
    await conn.execute(sa.update(_e).where(_e.c.delivery_id == delivery_id).values(status="FAILED"))
    result = await conn.execute(
        sa.update(_d)
        .where(_d.c.instance_id == instance_id, _d.c.status.in_(PENDING))
        .values(
            status=QUEUED, next_attempt_at=None, lease_owner=None, lease_until=None, updated_at=now
        )
        .returning(_d.c.id)
    )
    return sorted([delivery_id, *result.scalars().all()])


async def _finish(
    conn: AsyncConnection,
    delivery_id: int,
    owner: str,
    now: dt.datetime,
    *,
    status: str,
    next_at: dt.datetime | None,
    error: str | None,
) -> None:
    await conn.execute(
        sa.update(_d)
        .where(_d.c.id == delivery_id, _d.c.lease_owner == owner)
        .values(
            status=status,
            attempt_count=_d.c.attempt_count + 1,
            next_attempt_at=next_at,
            last_error=error,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )


# -- release -----------------------------------------------------------------------------------


async def release(
    conn: AsyncConnection, delivery_ids: Iterable[int], *, now: dt.datetime
) -> list[int]:
    """Re-queue the given ``queued`` deliveries as ``created`` (due now, a fresh retry schedule)
    and reactivate their instances' subscriptions. Returns the ids released, in order."""
    ids = sorted(set(delivery_ids))
    if not ids:
        return []
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


# -- events the outbox carries -----------------------------------------------------------------


async def events_to_send(
    conn: AsyncConnection, instance_id: int, event_ids: Sequence[int], *, unsent_only: bool
) -> list[Row]:
    """The instance's events among ``event_ids``, in id order (``unsent_only``: not yet in a
    delivery)."""
    if not event_ids:
        return []
    query = sa.select(_e).where(_e.c.instance_id == instance_id, _e.c.id.in_(event_ids))
    if unsent_only:
        query = query.where(_e.c.delivery_id.is_(None))
    return list((await conn.execute(query.order_by(_e.c.id))).all())


@dataclasses.dataclass(frozen=True)
class Sending:
    """What sending to an instance needs: its configuration and its sealed secrets."""

    element_key: str
    configuration: dict[str, Any]
    sealed_secrets: str


async def sending(
    conn: AsyncConnection, instance_id: int, *, organization_id: int | None = None
) -> Sending | None:
    """The instance's configuration and sealed secrets (scoped to an organization when given)."""
    query = sa.select(_i.c.element_key, _i.c.configuration, _i.c.secrets).where(
        _i.c.id == instance_id
    )
    if organization_id is not None:
        query = query.where(_i.c.organization_id == organization_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Sending(
        element_key=row.element_key,
        configuration=dict(row.configuration or {}),
        sealed_secrets=row.secrets,
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
    delivery_id = await conn.scalar(
        sa.insert(_d)
        .values(
            notification_id=notification_id,
            instance_id=instance_id,
            kind=kind,
            url=url,
            body=body,
            status=status,
            attempt_count=1,
            next_attempt_at=None,
            last_error=error,
            created_at=attempt.date,
            updated_at=attempt.date,
        )
        .returning(_d.c.id)
    )
    assert delivery_id is not None
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
    return int(delivery_id)


async def events_between(
    conn: AsyncConnection,
    instance_id: int,
    *,
    start: dt.datetime,
    end: dt.datetime,
    where: Sequence[Any],
    limit: int,
) -> list[Row]:
    """The instance's events dated in [``start``, ``end``) that match ``where`` (expressions made
    by ``storage.events.translate``), in id order, at most ``limit``."""
    query = (
        sa.select(_e)
        .select_from(_e.outerjoin(_d, _d.c.id == _e.c.delivery_id))
        .where(_e.c.instance_id == instance_id, _e.c.date >= start, _e.c.date < end, *where)
        .order_by(_e.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())
