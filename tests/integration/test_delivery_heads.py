"""A claim takes only the head of each lane (an instance's event notifications, and beside them
its operations ones), however deep the queue behind it, on each database's own statement."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import db, deliveries, delivery_claims, tables
from tests import delivery_support as support

_d = tables.deliveries


async def _queue(conn: AsyncConnection, instance_id: int, kind: str, n: int) -> list[int]:
    at = support.now() - dt.timedelta(minutes=5)
    return [
        await deliveries.insert(
            conn,
            notification_id=f"msg_{secrets.token_hex(16)}",
            instance_id=instance_id,
            kind=kind,
            url="http://127.0.0.1:9/hook",
            body="{}",
            status=deliveries.CREATED,
            now=at,
        )
        for _ in range(n)
    ]


async def test_only_heads_are_claimed_behind_deep_queues(db_url: str, tmp_path: Path) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        url = "http://127.0.0.1:9/hook"
        waiting, flowing, inactive, leased = [
            await support.make_instance(c, callback_url=url, key="k" * 32) for _ in range(4)
        ]
        now = support.now()
        async with db.transaction(c.engine) as conn:
            # a head waiting for its retry holds back the 30 due notifications behind it
            waiting_ids = await _queue(conn, waiting, "events", 31)
            await conn.execute(
                sa.update(_d)
                .where(_d.c.id == waiting_ids[0])
                .values(status=deliveries.RETRY, next_attempt_at=now + dt.timedelta(hours=1))
            )
            # ... but not the instance's operations lane, nor another instance's queue
            operations_ids = await _queue(conn, waiting, deliveries.OPERATIONS, 3)
            flowing_ids = await _queue(conn, flowing, "events", 20)
            # a replay joins the events lane behind what is queued
            flowing_ids += await _queue(conn, flowing, "replay", 1)
            await _queue(conn, inactive, "events", 5)
            await conn.execute(
                sa.update(tables.instances)
                .where(tables.instances.c.id == inactive)
                .values(subscription_active=False)
            )
            leased_ids = await _queue(conn, leased, "events", 4)
            await conn.execute(
                sa.update(_d)
                .where(_d.c.id == leased_ids[0])
                .values(lease_owner="other", lease_until=now + dt.timedelta(minutes=1))
            )

        async def claim(limit: int) -> list[int]:
            async with db.transaction(c.engine) as conn:
                until = support.now() + dt.timedelta(minutes=1)
                got = await delivery_claims.claim(
                    conn, owner="w/1", now=support.now(), until=until, limit=limit
                )
            return [one.id for one in got]

        assert await claim(100) == sorted([operations_ids[0], flowing_ids[0]])
        # leased now: the lanes have nothing more to give until their heads finish
        assert await claim(100) == []
        async with db.transaction(c.engine) as conn:
            await conn.execute(
                sa.update(_d)
                .where(_d.c.id.in_([flowing_ids[0], operations_ids[0]]))
                .values(status=deliveries.DELIVERED, lease_owner=None, lease_until=None)
            )
        assert await claim(1) == [operations_ids[1]]  # soonest due first: it was queued first
        assert await claim(100) == [flowing_ids[1]]
