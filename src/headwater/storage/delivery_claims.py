"""Claimed deliveries: the worker's lease on the head of each instance's queue, and what came of
each attempt (stored, then ``delivered``, ``retry``, ``failed``, or the subscription given up).

Only the head of each instance's pending queue (see :mod:`headwater.storage.deliveries`) is
claimable, so an instance has one notification in flight and its notifications go out in order; a
head waiting on retries holds back its own instance only. An outcome is written only while the
worker still holds the lease.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import db, deliveries, tables

_d = tables.deliveries
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
    # the instance's version when claimed: a copy of its settings read since is still current
    instance_updated_at: dt.datetime | None = None
    # the trace of the poll that found its events (W3C traceparent), when traces are on
    traceparent: str | None = None


async def claim(
    conn: AsyncConnection, *, owner: str, now: dt.datetime, until: dt.datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, each the head of its instance's queue; one statement.

    An expired lease (a worker died mid-send) is taken over. Uses ``FOR NO KEY UPDATE SKIP
    LOCKED`` on PostgreSQL; on SQLite the transaction holds the write lock (``BEGIN IMMEDIATE``).
    """
    if limit <= 0:
        return []
    values = {"owner": owner, "now": now, "until": until, "limit": limit}
    result = await conn.execute(_claim_statement(conn.dialect.name), values)
    claimed = [
        Claimed(
            id=row.id,
            notification_id=row.notification_id,
            instance_id=row.instance_id,
            kind=row.kind,
            url=row.url,
            body=row.body,
            attempt_count=row.attempt_count,
            traceparent=row.traceparent,
        )
        for row in result.all()
    ]
    if claimed:
        versions = await conn.execute(
            sa.select(_i.c.id, _i.c.updated_at).where(
                _i.c.id.in_(sorted({c.instance_id for c in claimed}))
            )
        )
        updated = {row.id: row.updated_at for row in versions}
        claimed = [
            dataclasses.replace(c, instance_updated_at=updated.get(c.instance_id)) for c in claimed
        ]
    return sorted(claimed, key=lambda c: c.id)


@functools.cache
def _claim_statement(dialect: str) -> sa.UpdateBase:
    """The claim, built once per database (building it took a third of the time SQLAlchemy
    spent per delivery); ``owner``, ``now``, ``until`` and ``limit`` are bound at each call."""
    due = _due(dialect, now=sa.bindparam("now", type_=_d.c.next_attempt_at.type))
    return (
        sa.update(_d)
        .where(_d.c.id.in_(due.scalar_subquery()))
        .values(
            lease_owner=sa.bindparam("owner", type_=_d.c.lease_owner.type),
            lease_until=sa.bindparam("until", type_=_d.c.lease_until.type),
        )
        .returning(
            _d.c.id,
            _d.c.notification_id,
            _d.c.instance_id,
            _d.c.kind,
            _d.c.url,
            _d.c.body,
            _d.c.attempt_count,
            _d.c.traceparent,
        )
    )


def _due(dialect: str, *, now: sa.BindParameter[dt.datetime]) -> sa.Select[tuple[int]]:
    """The ids of up to ``:limit`` claimable deliveries, soonest due first: pending, due, not
    leased, their subscription active, and each the head of its lane (no pending delivery of the
    same lane before it; operations notifications are a lane of their own beside the instance's
    event ones).

    Each database gets the statement it plans well. SQLite walks the due index and probes each
    candidate's lane for an earlier row, stopping at ``limit`` heads. PostgreSQL turns that
    probe into a hash anti-join comparing every candidate with every earlier delivery of its
    lane, which grows with the square of a queue's depth (with 5 queues of 1,000 a claim took
    130 ms); there one sorted pass over the pending rows finds each lane's head instead.
    """
    candidate = _d.alias("candidate")
    if dialect == "postgresql":
        pending = _d.alias("pending")
        lane = (pending.c.instance_id, pending.c.kind == deliveries.OPERATIONS)
        heads = (
            sa.select(
                pending.c.id,
                pending.c.instance_id,
                pending.c.kind,
                pending.c.status,
                pending.c.next_attempt_at,
                pending.c.lease_until,
            )
            .where(pending.c.status.in_(deliveries.PENDING))
            .ext(distinct_on(*lane))
            .order_by(*lane, pending.c.id)
            .subquery("heads")
        )
        chosen = (
            sa.select(heads.c.id)
            .where(*_claimable(heads, now))
            .order_by(heads.c.next_attempt_at, heads.c.id)
            .limit(db.written_limit_param("limit"))
        )
        # the chosen heads as one array, then locked by id: a join would leave the plan to
        # estimates, and a table too new for statistics was planned as a nested loop grouping
        # the pending rows again for every candidate; the conditions are checked again on the
        # locked row, which another worker may have claimed meanwhile
        ids = sa.cast(sa.func.array(chosen.scalar_subquery()), ARRAY(sa.Integer))
        # NO KEY UPDATE: the key stays, and the attempts and events beneath keep their way in
        return (
            sa.select(candidate.c.id)
            .where(candidate.c.id == sa.any_(ids), *_claimable(candidate, now))
            .with_for_update(skip_locked=True, of=candidate, key_share=True)
        )
    earlier = _d.alias("earlier")
    operations = candidate.c.kind == deliveries.OPERATIONS
    held_back = sa.exists().where(
        earlier.c.instance_id == candidate.c.instance_id,
        earlier.c.status.in_(deliveries.PENDING),
        earlier.c.id < candidate.c.id,
        sa.or_(
            sa.and_(operations, earlier.c.kind == deliveries.OPERATIONS),
            sa.and_(~operations, earlier.c.kind != deliveries.OPERATIONS),
        ),
    )
    return (
        sa.select(candidate.c.id)
        .where(*_claimable(candidate, now), ~held_back)
        .order_by(candidate.c.next_attempt_at, candidate.c.id)
        .limit(db.written_limit_param("limit"))
    )


def _claimable(
    row: sa.FromClause, now: sa.BindParameter[dt.datetime]
) -> list[sa.ColumnElement[bool]]:
    """Pending, due, not leased (or its lease ran out), and its subscription active."""
    owner_instance = _i.alias("owner_instance")
    return [
        row.c.status.in_(deliveries.PENDING),
        row.c.next_attempt_at <= now,
        sa.or_(row.c.lease_until.is_(None), row.c.lease_until < now),
        sa.or_(
            row.c.kind == deliveries.OPERATIONS,
            sa.exists().where(
                owner_instance.c.id == row.c.instance_id,
                owner_instance.c.subscription_active.is_(True),
            ),
        ),
    ]


async def record_attempt(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    owner: str,
    attempt: deliveries.Attempt,
    delivered: bool = False,
) -> bool:
    """Store ``attempt`` and mark the delivery's events DISPATCHED (unless ``delivered``: then
    :func:`mark_delivered` makes them NOTIFIED in the same transaction); False when the lease
    was lost.

    The attempt is stored either way (it happened); a lost lease means another worker owns the
    delivery's status now.
    """
    # the delivery row first, before its attempt and events (the lock order of storage.db): two
    # workers recording on one delivery (a lease taken over) queue here instead of both taking
    # the key-share lock of an attempt insert and then waiting on each other to update the row
    query = sa.select(_d.c.lease_owner).where(_d.c.id == delivery_id)
    row = (await conn.execute(query.with_for_update(key_share=True))).first()
    if row is None:
        return False  # the instance (and so the delivery) was deleted meanwhile
    held: bool = row.lease_owner == owner
    await deliveries.add_attempt(conn, delivery_id, attempt)
    if delivered and held:
        return True
    await conn.execute(
        sa.update(_e)
        .where(_e.c.delivery_id == delivery_id, _e.c.status == "NEW")
        .values(status="DISPATCHED")
    )
    return held


@dataclasses.dataclass(frozen=True)
class Delivered:
    """One delivered attempt to record: where it went (``url`` None: unchanged)."""

    delivery_id: int
    attempt: deliveries.Attempt
    url: str | None = None


async def record_delivered(
    conn: AsyncConnection, done: Sequence[Delivered], *, owner: str, now: dt.datetime
) -> set[int]:
    """Store several delivered attempts at once and mark those deliveries ``delivered``, their
    events NOTIFIED; returns the ids whose lease ``owner`` still held. A delivery whose lease was
    lost keeps its attempt (it happened) and its events become DISPATCHED, as
    :func:`record_attempt` does; a deleted one is skipped."""
    if not done:
        return set()
    ids = sorted({one.delivery_id for one in done})
    # the delivery rows first, in id order (the lock order of storage.db)
    query = sa.select(_d.c.id, _d.c.lease_owner).where(_d.c.id.in_(ids)).order_by(_d.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    owners = {row.id: row.lease_owner for row in await conn.execute(query)}
    present = [one for one in done if one.delivery_id in owners]
    if not present:
        return set()
    await conn.execute(
        sa.insert(tables.attempts),
        [
            {
                "delivery_id": one.delivery_id,
                "date": one.attempt.date,
                "status_code": one.attempt.status_code,
                "latency_ms": one.attempt.latency_ms,
                "error": one.attempt.error,
                "response": one.attempt.response,
            }
            for one in present
        ],
    )
    held = {one.delivery_id for one in present if owners[one.delivery_id] == owner}
    lost = sorted({one.delivery_id for one in present} - held)
    for one in present:
        if one.url is not None and one.delivery_id in held:
            await conn.execute(sa.update(_d).where(_d.c.id == one.delivery_id).values(url=one.url))
    if held:
        await conn.execute(
            sa.update(_d)
            .where(_d.c.id.in_(sorted(held)), _d.c.lease_owner == owner)
            .values(
                status=deliveries.DELIVERED,
                attempt_count=_d.c.attempt_count + 1,
                next_attempt_at=None,
                last_error=None,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        await conn.execute(
            sa.update(_e).where(_e.c.delivery_id.in_(sorted(held))).values(status="NOTIFIED")
        )
    if lost:
        await conn.execute(
            sa.update(_e)
            .where(_e.c.delivery_id.in_(lost), _e.c.status == "NEW")
            .values(status="DISPATCHED")
        )
    return held


async def mark_delivered(
    conn: AsyncConnection, delivery_id: int, *, owner: str, now: dt.datetime
) -> None:
    """The receiver took it: ``delivered``, its events NOTIFIED."""
    await _finish(
        conn, delivery_id, owner, now, status=deliveries.DELIVERED, next_at=None, error=None
    )
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
    await _finish(conn, delivery_id, owner, now, status=deliveries.RETRY, next_at=at, error=error)


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
            status=deliveries.QUEUED,
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
        .where(
            _d.c.instance_id == instance_id,
            _d.c.status.in_(deliveries.PENDING),
            _d.c.kind != deliveries.OPERATIONS,
        )
        .values(
            status=deliveries.QUEUED,
            next_attempt_at=None,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
        .returning(_d.c.id)
    )
    return sorted([delivery_id, *result.scalars().all()])


async def mark_failed(
    conn: AsyncConnection, delivery_id: int, *, owner: str, now: dt.datetime, error: str | None
) -> None:
    """Retries ran out on an operations notification: ``failed``, and nothing else changes."""
    await _finish(
        conn, delivery_id, owner, now, status=deliveries.FAILED, next_at=None, error=error
    )


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
