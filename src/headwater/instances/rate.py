"""An instance's provider rate limit, shared by every process on PostgreSQL.

Each call first waits its turn in this process (a :class:`~headwater.elements.limits.
RateLimiter`, which keeps the process's callers in order), then takes the account's next slot in
the database (:mod:`headwater.storage.rate_limits`) and waits for it: however many workers and
API nodes call for one instance, its calls keep the element's pace. A provider's ``Retry-After``
holds back this process at once and the others from their next call on.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater import errors
from headwater.elements import limits
from headwater.storage import db, rate_limits

log = logging.getLogger(__name__)


class SharedRateLimiter:
    """The rate limiter of one instance, across processes."""

    def __init__(self, engine: AsyncEngine, instance_id: int, local: limits.RateLimiter) -> None:
        self.engine = engine
        self.instance_id = instance_id
        self.local = local
        self.rate = local.rate
        self._holds: set[asyncio.Task[None]] = set()

    async def acquire(self) -> None:
        """Wait until one more call is allowed here and across processes."""
        await self.local.acquire()
        now_ms = int(time.time() * 1000)
        step_ms = max(1, round(1000 / self.rate))
        async with db.autocommit(self.engine) as conn:
            slot_ms = await rate_limits.reserve(
                conn, self.instance_id, now_ms=now_ms, step_ms=step_ms
            )
        wait = (slot_ms - now_ms) / 1000
        if wait > 0:
            await asyncio.sleep(wait)

    def held_for(self) -> float:
        """Seconds until the provider's last "wait" (as this process knows it) ends."""
        return self.local.held_for()

    def hold(self, seconds: float) -> None:
        """Let no call through for ``seconds``: here at once, elsewhere from their next slot."""
        self.local.hold(seconds)
        until_ms = int((time.time() + max(0.0, seconds)) * 1000)
        task = asyncio.get_running_loop().create_task(self._hold(until_ms))
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)

    async def shared(self) -> None:
        """Wait until every hold asked for so far is written for the other processes."""
        await asyncio.gather(*self._holds, return_exceptions=True)

    async def _hold(self, until_ms: int) -> None:
        try:
            async with db.autocommit(self.engine) as conn:
                await rate_limits.hold(conn, self.instance_id, until_ms=until_ms)
        except errors.StorageError as error:
            # the other processes learn of the wait from their own 429 instead
            log.warning("could not share a hold of instance %s: %s", self.instance_id, error)
