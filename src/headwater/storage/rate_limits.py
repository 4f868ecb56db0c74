"""Provider call slots shared by every process: one row per instance, the time its next call
may go.

:func:`reserve` takes the next slot in one statement (an upsert that moves the row on by one
step and returns where it was), so two processes never get the same slot; :func:`hold` pushes
the next slot back when the provider asked to wait (``Retry-After``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.storage import tables

_r = tables.rate_limits


async def reserve(conn: AsyncConnection, instance_id: int, *, now_ms: int, step_ms: int) -> int:
    """The start of the slot reserved for one call (epoch milliseconds, ``now_ms`` or later);
    the next caller's slot starts ``step_ms`` after it. PostgreSQL only."""
    insert = postgresql.insert(_r).values(instance_id=instance_id, next_ms=now_ms + step_ms)
    statement = insert.on_conflict_do_update(
        index_elements=[_r.c.instance_id],
        set_={"next_ms": sa.func.greatest(_r.c.next_ms, now_ms) + step_ms},
    ).returning(_r.c.next_ms)
    taken: int | None = await conn.scalar(statement)
    assert taken is not None
    return taken - step_ms


async def hold(conn: AsyncConnection, instance_id: int, *, until_ms: int) -> None:
    """No slot before ``until_ms``. PostgreSQL only."""
    insert = postgresql.insert(_r).values(instance_id=instance_id, next_ms=until_ms)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[_r.c.instance_id],
            set_={"next_ms": sa.func.greatest(_r.c.next_ms, until_ms)},
        )
    )
