"""Alert rows: which conditions of which instances are firing, flipped by one conditional
statement each, and the queries that observe the conditions themselves.

Any number of processes observe the same conditions; :func:`fire` and :func:`recover` let one
of them, and only one, win each transition (an upsert or update that changes nothing when
another process already made the change answers False).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import deliveries, pollers, tables

_a = tables.alerts
_p = tables.pollers
_i = tables.instances
_d = tables.deliveries

OPERATIONS = deliveries.OPERATIONS


@dataclasses.dataclass(frozen=True)
class Observed:
    """A condition that holds now on an instance."""

    instance_id: int
    organization_id: int
    reason: str
    poller_id: int | None = None
    resource: str | None = None


@dataclasses.dataclass(frozen=True)
class Firing:
    """An alert row that is firing."""

    id: int
    instance_id: int
    organization_id: int
    subject: str
    since: dt.datetime


async def fire(
    conn: AsyncConnection, *, instance_id: int, subject: str, reason: str, now: dt.datetime
) -> bool:
    """Mark the condition firing; True when this call started it (it was not firing)."""
    insert: Any = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(_a)
    statement = (
        insert.values(
            instance_id=instance_id, subject=subject, firing=True, reason=reason, since=now
        )
        .on_conflict_do_update(
            index_elements=[_a.c.instance_id, _a.c.subject],
            set_={"firing": True, "reason": reason, "since": now},
            where=_a.c.firing.is_(False),
        )
        .returning(_a.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def recover(conn: AsyncConnection, alert_id: int, *, reason: str, now: dt.datetime) -> bool:
    """Mark the alert no longer firing; True when this call ended it."""
    result = await conn.execute(
        sa.update(_a)
        .where(_a.c.id == alert_id, _a.c.firing.is_(True))
        .values(firing=False, reason=reason, since=now)
    )
    return result.rowcount == 1


async def forget(conn: AsyncConnection, alert_id: int) -> None:
    """Drop an alert whose subject is gone (a poller removed from the configuration)."""
    await conn.execute(sa.delete(_a).where(_a.c.id == alert_id))


async def firing(conn: AsyncConnection) -> list[Firing]:
    """Every firing alert, with its instance's organization."""
    query = (
        sa.select(_a.c.id, _a.c.instance_id, _i.c.organization_id, _a.c.subject, _a.c.since)
        .join(_i, _i.c.id == _a.c.instance_id)
        .where(_a.c.firing.is_(True))
        .order_by(_a.c.id)
    )
    return [Firing(**row._mapping) for row in await conn.execute(query)]


async def firing_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many alerts fire, by subject (pollers' counted together as ``poller``)."""
    query = sa.select(_a.c.subject).where(_a.c.firing.is_(True))
    counts: dict[str, int] = {}
    for subject in (await conn.execute(query)).scalars():
        name = subject.partition(":")[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


# -- observing the conditions --------------------------------------------------------------------


async def disabled_pollers(conn: AsyncConnection) -> list[Observed]:
    """Pollers that disabled themselves (not those their user paused)."""
    query = (
        sa.select(
            _p.c.id, _p.c.resource, _p.c.disabled_reason, _p.c.instance_id, _i.c.organization_id
        )
        .join(_i, _i.c.id == _p.c.instance_id)
        .where(
            _p.c.enabled.is_(False),
            _p.c.disabled_reason.is_not(None),
            _p.c.disabled_reason != pollers.PAUSED,
        )
        .order_by(_p.c.id)
    )
    return [
        Observed(row.instance_id, row.organization_id, row.disabled_reason, row.id, row.resource)
        for row in await conn.execute(query)
    ]


@dataclasses.dataclass(frozen=True)
class PollerRun:
    """What says whether a poller that disabled itself runs again."""

    id: int
    resource: str
    enabled: bool
    consecutive_failures: int
    last_run_at: dt.datetime | None


async def poller_runs(conn: AsyncConnection, poller_ids: Sequence[int]) -> dict[int, PollerRun]:
    """The pollers among ``poller_ids`` that still exist."""
    if not poller_ids:
        return {}
    query = sa.select(
        _p.c.id, _p.c.resource, _p.c.enabled, _p.c.consecutive_failures, _p.c.last_run_at
    ).where(_p.c.id.in_(sorted(set(poller_ids))))
    return {row.id: PollerRun(**row._mapping) for row in await conn.execute(query)}


async def invalid_instances(conn: AsyncConnection) -> list[Observed]:
    """Instances whose provider refused their tokens."""
    query = (
        sa.select(_i.c.id, _i.c.organization_id, _i.c.invalid_reason)
        .where(_i.c.valid.is_(False))
        .order_by(_i.c.id)
    )
    return [
        Observed(
            row.id, row.organization_id, row.invalid_reason or "the provider refused its tokens"
        )
        for row in await conn.execute(query)
    ]


async def inactive_subscriptions(conn: AsyncConnection) -> list[Observed]:
    """Instances whose subscription was deactivated (delivery retries ran out, or a 410), with
    the last error of their latest queued notification."""
    last_error = (
        sa.select(_d.c.last_error)
        .where(
            _d.c.instance_id == _i.c.id,
            _d.c.status == deliveries.QUEUED,
            _d.c.last_error.is_not(None),
        )
        .order_by(_d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(_i.c.id, _i.c.organization_id, last_error.label("last_error"))
        .where(_i.c.subscription_active.is_(False))
        .order_by(_i.c.id)
    )
    found = []
    for row in await conn.execute(query):
        reason = "delivery retries ran out; notifications are queued until released"
        if row.last_error:
            reason = f"{reason} (last error: {row.last_error})"
        found.append(Observed(row.id, row.organization_id, reason))
    return found


async def oldest_undelivered(
    conn: AsyncConnection, *, instance_ids: Sequence[int] | None = None, before: dt.datetime | None
) -> dict[int, tuple[int, dt.datetime]]:
    """Instance id → (organization id, creation of its oldest undelivered event notification),
    for the instances whose oldest is older than ``before`` (or among ``instance_ids``)."""
    query = (
        sa.select(_d.c.instance_id, _i.c.organization_id, sa.func.min(_d.c.created_at))
        .join(_i, _i.c.id == _d.c.instance_id)
        .where(
            _d.c.status.in_((deliveries.CREATED, deliveries.RETRY, deliveries.QUEUED)),
            _d.c.kind != OPERATIONS,
        )
        .group_by(_d.c.instance_id, _i.c.organization_id)
    )
    if before is not None:
        query = query.where(_d.c.created_at < before)
    if instance_ids is not None:
        if not instance_ids:
            return {}
        query = query.where(_d.c.instance_id.in_(sorted(set(instance_ids))))
    found: dict[int, tuple[int, dt.datetime]] = {}
    for instance_id, organization_id, oldest in await conn.execute(query):
        if isinstance(oldest, dt.datetime):
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            found[instance_id] = (organization_id, oldest)
    return found
