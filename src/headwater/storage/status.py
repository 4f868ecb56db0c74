"""The rows behind ``headwater status``: every instance, its pollers and its undelivered queue."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import delivery_log, pollers, tables

_i = tables.instances
_o = tables.organizations
_p = tables.pollers
_d = tables.deliveries


@dataclasses.dataclass(frozen=True)
class InstanceRow:
    """An instance as an operator sees it, with its organization's name."""

    id: int
    name: str
    element_key: str
    organization_id: int
    organization: str
    valid: bool
    invalid_reason: str | None
    disabled: bool
    events_enabled: bool
    subscription_active: bool


@dataclasses.dataclass(frozen=True)
class Backlog:
    """An instance's undelivered notifications by status, and when the oldest was created."""

    by_status: dict[str, int]
    oldest: dt.datetime | None

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


async def instances(conn: AsyncConnection) -> list[InstanceRow]:
    """Every instance of every organization, in id order."""
    query = (
        sa.select(
            _i.c.id,
            _i.c.name,
            _i.c.element_key,
            _i.c.organization_id,
            _o.c.name.label("organization"),
            _i.c.valid,
            _i.c.invalid_reason,
            _i.c.disabled,
            _i.c.events_enabled,
            _i.c.subscription_active,
        )
        .join(_o, _o.c.id == _i.c.organization_id)
        .order_by(_i.c.id)
    )
    return [InstanceRow(**row._mapping) for row in (await conn.execute(query)).all()]


async def pollers_of(conn: AsyncConnection) -> dict[int, list[pollers.Poller]]:
    """Every poller, by instance id, each instance's in resource order."""
    query = sa.select(_p).order_by(_p.c.instance_id, _p.c.resource)
    found: dict[int, list[pollers.Poller]] = {}
    for row in (await conn.execute(query)).all():
        poller = pollers.Poller(**row._mapping)
        found.setdefault(poller.instance_id, []).append(poller)
    return found


async def backlogs(conn: AsyncConnection, instance_ids: Sequence[int]) -> dict[int, Backlog]:
    """The undelivered notifications of each of ``instance_ids`` (every one of them answered)."""
    counts: dict[int, dict[str, int]] = {
        instance_id: dict.fromkeys(delivery_log.UNDELIVERED, 0) for instance_id in instance_ids
    }
    oldest: dict[int, dt.datetime | None] = dict.fromkeys(instance_ids)
    if not instance_ids:
        return {}
    query = (
        sa.select(_d.c.instance_id, _d.c.status, sa.func.count(), sa.func.min(_d.c.created_at))
        .where(_d.c.instance_id.in_(instance_ids), _d.c.status.in_(delivery_log.UNDELIVERED))
        .group_by(_d.c.instance_id, _d.c.status)
    )
    for instance_id, status, count, first in (await conn.execute(query)).all():
        counts[instance_id][status] = int(count)
        if isinstance(first, dt.datetime):
            first = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
            seen = oldest[instance_id]
            oldest[instance_id] = first if seen is None else min(seen, first)
    return {
        instance_id: Backlog(by_status=counts[instance_id], oldest=oldest[instance_id])
        for instance_id in instance_ids
    }
