"""Delivered attempts recorded together: one transaction for every send that finished while the
previous one was being written.

With many notifications in flight, recording each delivered attempt in a transaction of its own
costs more than sending it. The first delivered attempt is written at once; those that finish
meanwhile wait and are written together next, each with its own lease check
(:func:`headwater.storage.delivery_claims.record_delivered`). A batch that fails is written again
one by one, so that one bad row costs only its own delivery a retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.storage import db, delivery_claims, instances

log = logging.getLogger(__name__)

MAX_BATCH = 128

_Waiting = tuple[delivery_claims.Delivered, int, "asyncio.Future[bool]"]


class DeliveredRecorder:
    """Writes delivered attempts in batches; :meth:`record` answers whether the lease held."""

    def __init__(
        self, engine: AsyncEngine, *, owner: str, clock: Callable[[], dt.datetime]
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.clock = clock
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, done: delivery_claims.Delivered, instance_id: int) -> bool:
        """Store ``done``; True when this worker still held the delivery's lease (it is then
        ``delivered``). Raises what writing it raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((done, instance_id, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="delivered-recorder")
        return await future

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                held = await self._write([one for one, _, _ in batch], [i for _, i, _ in batch])
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch, error)
                    continue
                log.warning(
                    "recording %d delivered attempts together failed (%s); one by one",
                    len(batch),
                    error,
                )
                for item in batch:
                    await self._write_one(item)
                continue
            for one, _, future in batch:
                if not future.done():
                    future.set_result(one.delivery_id in held)

    async def _write_one(self, item: _Waiting) -> None:
        one, instance_id, future = item
        try:
            held = await self._write([one], [instance_id])
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(one.delivery_id in held)

    async def _write(
        self, done: list[delivery_claims.Delivered], instance_ids: list[int]
    ) -> set[int]:
        async def write(conn: AsyncConnection) -> set[int]:
            # the instances first (the lock order of storage.db); SQLite serializes writers whole
            if conn.dialect.name != "sqlite":
                await instances.lock(conn, instance_ids)
            return await delivery_claims.record_delivered(
                conn, done, owner=self.owner, now=self.clock()
            )

        return await db.write(self.engine, write)


def _fail(batch: list[_Waiting], error: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)
