"""Poller rows: kept in line with configurations and claimed with leases.

A poller is one resource of one instance. It is *due* when ``next_run_at`` has passed; an inactive
instance's pollers have no ``next_run_at`` at all. A worker claims due pollers with one short
statement that sets a lease (``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
``UPDATE … RETURNING`` under SQLite's write lock), heartbeats while it polls, and writes the outcome
in the transaction that first checks it still holds the lease. An expired lease is taken over.

Pollers of one instance run one after another: a poller is not claimable while another poller of
its instance holds a live lease, and the claim locks the instance row as well, so that two workers
cannot take two pollers of one instance at the same moment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import config
from headwater.storage import db, tables

PAUSED = "paused"
"""``disabled_reason`` of a poller its user paused; any other reason means it disabled itself."""

_p = tables.pollers
_v = tables.record_versions
_i = tables.instances


@dataclasses.dataclass(frozen=True)
class Poller:
    """A poller row: one resource of one instance, its cursor, schedule, lease and health."""

    id: int
    instance_id: int
    resource: str
    enabled: bool
    disabled_reason: str | None
    query_fingerprint: str
    cursor_ms: int | None
    start_ms: int | None
    next_run_at: dt.datetime | None
    last_run_at: dt.datetime | None
    next_reconcile_at: dt.datetime | None
    last_error: str | None
    consecutive_failures: int
    last_event_count: int | None
    run_requested: bool
    lease_owner: str | None
    lease_until: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class DisabledPoller(Poller):
    """A disabled poller with the key and name of its instance."""

    element_key: str
    instance_name: str


def _poller(row: sa.Row[Any]) -> Poller:
    return Poller(**row._mapping)


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A poller a worker holds the lease of, as it stood when claimed."""

    id: int
    instance_id: int
    resource: str
    query_fingerprint: str
    cursor_ms: int | None
    due_at: dt.datetime
    last_run_at: dt.datetime | None
    next_reconcile_at: dt.datetime | None
    consecutive_failures: int
    lease_owner: str
    start_ms: int | None = None  # the poller's start (see :func:`sync`); None: not kept
    # the instance's version when claimed: a copy of it read since is still current
    instance_updated_at: dt.datetime | None = None


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# -- keeping rows in line with the configuration ---------------------------------------------


async def sync(
    conn: AsyncConnection,
    *,
    instance_id: int,
    resources: Mapping[str, config.Resource],
    active: bool,
    now: dt.datetime,
    overlap_ms: int = 0,
) -> None:
    """Bring an instance's poller rows in line with its resources, inside the caller's transaction.

    A poller *starts* at ``backfill_from_ms`` when its resource gives one, else at ``now`` minus
    ``overlap_ms`` (the poll overlap: what changed that shortly before is reported, as a clock
    a little behind ours would stamp it); its start and its first cursor are that time.
    Creates missing rows (due now when ``active``, started), deletes the rows of removed
    resources, restarts a resource whose query fingerprint changed (started again at ``now``
    minus ``overlap_ms``, versions forgotten, due at once) and keeps the others. Inactive rows get
    no next run; rows that become active are due at once, and one that never ran starts then.
    Pollers that disabled themselves after failing are resumed; paused ones stay paused.
    """
    # the rows first, in id order, before their versions (the lock order of storage.db)
    query = sa.select(_p).where(_p.c.instance_id == instance_id).order_by(_p.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    rows = {row.resource: row for row in (await conn.execute(query)).all()}
    gone = [row.id for name, row in rows.items() if name not in resources]
    if gone:
        await conn.execute(sa.delete(_v).where(_v.c.poller_id.in_(gone)))
        await conn.execute(sa.delete(_p).where(_p.c.id.in_(gone)))
    fresh_ms = _ms(now) - max(0, overlap_ms)  # where a poller starting now starts
    for name, resource in resources.items():
        start_ms = resource.backfill_from_ms if resource.backfill_from_ms is not None else fresh_ms
        row = rows.get(name)
        if row is None:
            await conn.execute(
                sa.insert(_p).values(
                    instance_id=instance_id,
                    resource=name,
                    enabled=True,
                    disabled_reason=None,
                    query_fingerprint=resource.fingerprint(),
                    cursor_ms=start_ms,
                    start_ms=start_ms,
                    next_run_at=now if active else None,
                    last_run_at=None,
                    next_reconcile_at=None,
                    last_error=None,
                    consecutive_failures=0,
                    last_event_count=None,
                    run_requested=False,
                )
            )
            continue
        values: dict[str, Any] = {}
        if row.query_fingerprint != resource.fingerprint():
            await conn.execute(sa.delete(_v).where(_v.c.poller_id == row.id))
            values.update(
                query_fingerprint=resource.fingerprint(),
                cursor_ms=fresh_ms,
                start_ms=fresh_ms,
                next_reconcile_at=None,
                last_event_count=None,
                last_error=None,
                consecutive_failures=0,
            )
            if active:
                values["next_run_at"] = now  # a new query runs at once, as a new resource does
        if not active:
            values["next_run_at"] = None
        else:
            if row.next_run_at is None:
                values["next_run_at"] = now
                if row.last_run_at is None and "cursor_ms" not in values:
                    values.update(cursor_ms=start_ms, start_ms=start_ms)
            if not row.enabled and row.disabled_reason != PAUSED:
                values.update(
                    enabled=True, disabled_reason=None, consecutive_failures=0, next_run_at=now
                )
        if values:
            await conn.execute(sa.update(_p).where(_p.c.id == row.id).values(**values))


# -- reading -------------------------------------------------------------------------------


async def for_instance(conn: AsyncConnection, instance_id: int) -> list[Poller]:
    """The instance's pollers, by resource name."""
    query = sa.select(_p).where(_p.c.instance_id == instance_id).order_by(_p.c.resource)
    return [_poller(row) for row in await conn.execute(query)]


async def disabled(conn: AsyncConnection, *, organization_id: int) -> list[DisabledPoller]:
    """The organization's disabled pollers (paused or disabled themselves), by instance and
    resource, each with its instance's ``element_key`` and ``instance_name``."""
    query = (
        sa.select(_p, _i.c.element_key, _i.c.name.label("instance_name"))
        .join(_i, _i.c.id == _p.c.instance_id)
        .where(_i.c.organization_id == organization_id, _p.c.enabled.is_(False))
        .order_by(_p.c.instance_id, _p.c.resource)
    )
    return [DisabledPoller(**row._mapping) for row in await conn.execute(query)]


async def get(conn: AsyncConnection, instance_id: int, resource: str) -> Poller | None:
    query = sa.select(_p).where(_p.c.instance_id == instance_id, _p.c.resource == resource)
    row = (await conn.execute(query)).first()
    return None if row is None else _poller(row)


# -- user actions ------------------------------------------------------------------------------


async def request_run(
    conn: AsyncConnection, poller_id: int, *, now: dt.datetime, reconcile: bool = False
) -> None:
    """Make the poller due now; one running now runs again as soon as it finishes."""
    values: dict[str, Any] = {"next_run_at": now, "run_requested": True}
    if reconcile:
        # None already means due, and marks the first reconciliation (which learns the ids)
        values["next_reconcile_at"] = sa.case(
            (_p.c.next_reconcile_at.is_(None), sa.null()), else_=sa.literal(now, tables.Time)
        )
    await conn.execute(sa.update(_p).where(_p.c.id == poller_id).values(**values))


async def set_enabled(
    conn: AsyncConnection, poller_id: int, *, enabled: bool, active: bool, now: dt.datetime
) -> None:
    """Resume (due at once when its instance is active, failures forgotten) or pause a poller."""
    if enabled:
        values: dict[str, Any] = {
            "enabled": True,
            "disabled_reason": None,
            "consecutive_failures": 0,
            "next_run_at": now if active else None,
        }
    else:
        values = {"enabled": False, "disabled_reason": PAUSED}
    await conn.execute(sa.update(_p).where(_p.c.id == poller_id).values(**values))


# -- claiming ----------------------------------------------------------------------------------


async def claim(
    conn: AsyncConnection, *, owner: str, now: dt.datetime, until: dt.datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due pollers in one statement, oldest due first.

    A poller is due when enabled, its next run has passed, its own lease is free or expired, its
    instance has events enabled and is enabled and valid, and no other poller of its instance
    holds a live lease. ``owner`` should be unique per claim: the outcome is written only while
    the lease still names it. On PostgreSQL a second statement gives back any poller whose
    sibling another worker claimed a moment before (see below).
    """
    if limit <= 0:
        return []
    candidate = _p.alias("candidate")
    sibling = _p.alias("sibling")
    # a count per candidate, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti-join and,
    # when its statistics expect many due pollers, hashes the leased siblings out of a scan of
    # the whole table; a count is looked up by index for each candidate
    busy = (
        sa.select(sa.func.count())
        .where(
            sibling.c.instance_id == candidate.c.instance_id,
            sibling.c.id != candidate.c.id,
            sibling.c.lease_until.is_not(None),
            sibling.c.lease_until >= now,
        )
        .scalar_subquery()
    )
    due = (
        sa.select(candidate.c.id)
        .join(_i, _i.c.id == candidate.c.instance_id)
        .where(
            candidate.c.enabled.is_(True),
            candidate.c.next_run_at.is_not(None),
            candidate.c.next_run_at <= now,
            sa.or_(candidate.c.lease_until.is_(None), candidate.c.lease_until < now),
            _i.c.events_enabled.is_(True),
            _i.c.disabled.is_(False),
            _i.c.valid.is_(True),
            busy == 0,
        )
        .order_by(candidate.c.next_run_at, candidate.c.id)
        .limit(db.written_limit(limit))
    )
    if conn.dialect.name == "postgresql":
        # NO KEY UPDATE: does not wait on the key-share locks that inserting events takes
        due = due.with_for_update(skip_locked=True, of=[candidate, _i], key_share=True)
    due_at = _p.c.next_run_at
    result = await conn.execute(
        sa.update(_p)
        .where(_p.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until, run_requested=False)
        .returning(
            _p.c.id,
            _p.c.instance_id,
            _p.c.resource,
            _p.c.query_fingerprint,
            _p.c.cursor_ms,
            _p.c.start_ms,
            due_at,
            _p.c.last_run_at,
            _p.c.next_reconcile_at,
            _p.c.consecutive_failures,
            _p.c.lease_owner,
        )
    )
    claimed = [
        Claimed(
            id=row.id,
            instance_id=row.instance_id,
            resource=row.resource,
            query_fingerprint=row.query_fingerprint,
            cursor_ms=row.cursor_ms,
            start_ms=row.start_ms,
            due_at=row.next_run_at,
            last_run_at=row.last_run_at,
            next_reconcile_at=row.next_reconcile_at,
            consecutive_failures=row.consecutive_failures,
            lease_owner=row.lease_owner,
        )
        for row in result.all()
    ]
    if claimed and conn.dialect.name == "postgresql":
        # The claim's snapshot may predate another worker's claim of a sibling that committed
        # just before this one locked the instance row; this second look (a fresh snapshot)
        # gives such pollers back. Two workers cannot both give way: the earlier one committed
        # before the later could lock the instance.
        clash = sa.exists().where(
            sibling.c.instance_id == _p.c.instance_id,
            sibling.c.lease_owner != owner,
            sibling.c.lease_until >= now,
        )
        result = await conn.execute(
            sa.update(_p)
            .where(_p.c.id.in_([c.id for c in claimed]), _p.c.lease_owner == owner, clash)
            .values(lease_owner=None, lease_until=None)
            .returning(_p.c.id)
        )
        given_back = {row.id for row in result.all()}
        claimed = [c for c in claimed if c.id not in given_back]
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
    return sorted(claimed, key=lambda c: (c.due_at, c.id))


async def next_due(conn: AsyncConnection, *, now: dt.datetime) -> dt.datetime | None:
    """The earliest planned run of an enabled poller that nobody is running (it may still turn
    out not claimable)."""
    query = sa.select(sa.func.min(_p.c.next_run_at)).where(
        _p.c.enabled.is_(True),
        _p.c.next_run_at.is_not(None),
        sa.or_(_p.c.lease_until.is_(None), _p.c.lease_until < now),
    )
    value: dt.datetime | None = await conn.scalar(query)  # min() keeps the column's UTC type
    return value


async def heartbeat(
    conn: AsyncConnection, poller_ids: Sequence[int], *, owner: str, until: dt.datetime
) -> set[int]:
    """Extend the leases ``owner`` still holds; returns the ids it holds."""
    if not poller_ids:
        return set()
    result = await conn.execute(
        sa.update(_p)
        .where(_p.c.id.in_(_in_order(poller_ids)), _p.c.lease_owner == owner)
        .values(lease_until=until)
        .returning(_p.c.id)
    )
    return {row.id for row in result.all()}


def _in_order(poller_ids: Iterable[int]) -> Any:
    """The ids as a subquery that locks their rows in id order (the lock order of storage.db):
    an ``UPDATE … WHERE id IN (…)`` alone locks rows in whatever order it finds them."""
    ids = sa.select(_p.c.id).where(_p.c.id.in_(list(poller_ids))).order_by(_p.c.id)
    return ids.with_for_update(key_share=True).scalar_subquery()


async def lock(conn: AsyncConnection, poller_ids: Iterable[int]) -> None:
    """Lock poller rows ``FOR NO KEY UPDATE``, in id order, as a poll's outcome does
    (:func:`hold`): what another transaction records for them waits for this one (PostgreSQL;
    SQLite's writers are serialized as a whole)."""
    ids = sorted(set(poller_ids))
    if ids and conn.dialect.name == "postgresql":
        query = sa.select(_p.c.id).where(_p.c.id.in_(ids)).order_by(_p.c.id)
        await conn.execute(query.with_for_update(key_share=True))


async def hold(conn: AsyncConnection, poller_id: int, *, owner: str) -> Poller | None:
    """The first statement of a transaction that writes a poll's outcome: locks the poller row
    if ``owner`` still holds its lease, and returns it; None when the lease was lost.

    Expiry alone does not lose a lease: until another worker takes it over, nobody else polls.
    """
    result = await conn.execute(
        sa.update(_p)
        .where(_p.c.id == poller_id, _p.c.lease_owner == owner)
        .values(lease_owner=owner)
        .returning(*_p.c)
    )
    row = result.first()
    return None if row is None else _poller(row)


async def release(conn: AsyncConnection, poller_ids: Iterable[int], *, owner: str) -> None:
    """Give up leases without an outcome (the poller stays due)."""
    ids = list(poller_ids)
    if ids:
        await conn.execute(
            sa.update(_p)
            .where(_p.c.id.in_(_in_order(ids)), _p.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


async def stop_instance(conn: AsyncConnection, instance_id: int) -> None:
    """No further runs for the instance's pollers until it is active again (see :func:`sync`)."""
    await conn.execute(
        sa.update(_p).where(_p.c.instance_id == instance_id).values(next_run_at=None)
    )
