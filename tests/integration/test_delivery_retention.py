"""Retention purges old events, deliveries and attempts, and never what is still undelivered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from headwater import bootstrap
from headwater.delivery import retention
from headwater.storage import db, deliveries, tables
from tests import delivery_support as support
from tests.sandbox_fixtures import Receiver


async def test_old_rows_go_and_queued_ones_stay(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (old_sent,) = await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        _, (old_queued,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 2)]
        )
        _, (recent,) = await support.add_events(c, instance_id, [support.contact(instance_id, 3)])
        async with support.running_worker(c):
            await support.eventually(
                lambda: _statuses(c, [old_sent, old_queued, recent], {"delivered"})
            )
        long_ago = support.now() - dt.timedelta(days=40)
        d, e = tables.deliveries, tables.events
        async with db.transaction(c.engine) as conn:
            await conn.execute(
                sa.update(d).where(d.c.id.in_([old_sent, old_queued])).values(created_at=long_ago)
            )
            await conn.execute(
                sa.update(d).where(d.c.id == old_queued).values(status=deliveries.QUEUED)
            )
            await conn.execute(
                sa.update(e)
                .where(e.c.delivery_id.in_([old_sent, old_queued]))
                .values(poll_date=long_ago)
            )

        purged = await retention.purge(c.engine, now=support.now(), retention_days=30, batch=1)

        assert (purged.events, purged.deliveries) == (1, 1)
        left = await support.rows(c, d)
        assert [row.id for row in left] == [old_queued, recent]
        assert {row.delivery_id for row in await support.rows(c, e)} == {old_queued, recent}
        attempts = await support.rows(c, tables.attempts)
        assert {a.delivery_id for a in attempts} == {old_queued, recent}

        again = await retention.purge(c.engine, now=support.now(), retention_days=30)
        assert (again.events, again.deliveries) == (0, 0)


async def _statuses(c: bootstrap.Container, ids: list[int], expected: set[str]) -> bool:
    return set(await support.statuses(c, ids)) == expected
