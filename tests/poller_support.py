"""Helpers for poller tests: run one poller now, in-process, and read what it stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import sqlalchemy as sa

from headwater.poller import context, service
from headwater.storage import db, pollers, tables


async def run_poller(
    deps: context.Deps,
    instance_id: int,
    resource: str = "contacts",
    *,
    reconcile: bool = False,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for claiming, not a cancel scope
) -> service.Outcome:
    """Make the poller due, claim it and run it here (with its reconciliation when due)."""
    async with db.transaction(deps.engine) as conn:
        row = await pollers.get(conn, instance_id, resource)
        assert row is not None, f"no poller {resource!r} on instance {instance_id}"
        await pollers.request_run(conn, row.id, now=_now(), reconcile=reconcile)
    deadline = time.monotonic() + timeout
    while True:
        now = _now()
        async with db.transaction(deps.engine) as conn:
            claimed = await pollers.claim(
                conn,
                owner=f"test/{time.monotonic_ns()}",
                now=now,
                until=now + dt.timedelta(seconds=60),
                limit=1000,
            )
        mine = [c for c in claimed if c.id == row.id]
        others = [c for c in claimed if c.id != row.id]
        if others:
            async with db.transaction(deps.engine) as conn:
                await pollers.release(conn, [c.id for c in others], owner=others[0].lease_owner)
        if mine:
            [outcome] = await service.run_claimed(deps, mine)
            return outcome
        assert time.monotonic() < deadline, f"poller {row.id} could not be claimed"
        await asyncio.sleep(0.01)


async def poller_row(deps: context.Deps, instance_id: int, resource: str = "contacts") -> Any:
    async with db.reading(deps.engine) as conn:
        return await pollers.get(conn, instance_id, resource)


async def stored_events(
    deps: context.Deps, instance_id: int, *, after_id: int = 0, object_type: str | None = None
) -> list[Any]:
    """The instance's events in id order."""
    e = tables.events
    query = sa.select(e).where(e.c.instance_id == instance_id, e.c.id > after_id).order_by(e.c.id)
    if object_type is not None:
        query = query.where(e.c.object_type == object_type)
    async with db.reading(deps.engine) as conn:
        return list((await conn.execute(query)).all())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
