"""Storing a poll's events: one statement for all of them, and each id returned is its own
event's, in the order given, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from headwater.storage import tables
from tests import delivery_support as support

KEY = "k" * 32


async def test_the_ids_returned_are_the_events_own_in_order(db_url: str, tmp_path: Path) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        first = await support.make_instance(c, callback_url="http://127.0.0.1:9/", key=KEY)
        other = await support.make_instance(c, callback_url="http://127.0.0.1:9/", key=KEY)
        # ids already taken, the highest deleted (SQLite may give it again), so that new ids are
        # neither 1..n nor all fresh
        taken, _ = await support.add_events(c, other, [support.contact(other, n) for n in range(5)])
        async with c.engine.begin() as conn:
            await conn.execute(sa.delete(tables.events).where(tables.events.c.id == max(taken)))
        order = [17, 2, 40, 9, 1, 33, 5, 28, 11, 7, 64, 3]
        ids, _ = await support.add_events(c, first, [support.contact(first, n) for n in order])
        assert len(set(ids)) == len(order)
        rows = await support.rows(c, tables.events, tables.events.c.id.in_(ids))
        stored = {row.id: row.object_id for row in rows}
        assert [stored[i] for i in ids] == [f"l-0001:{n}" for n in order]
        assert all(row.instance_id == first for row in rows)
