"""Can the database take a write right now? A rolled-back write under a deadline (``/readyz``).

The probe rewrites Alembic's version row to itself in a transaction that is then rolled back: it
needs the write lock (SQLite) or a row lock (PostgreSQL) as real work does, fails as real work would
on a read-only file, a read-only transaction or a stopped server, and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.errors import StorageError
from headwater.storage import db

log = logging.getLogger(__name__)

_VERSION = sa.table("alembic_version", sa.column("version_num"))


class WriteProbe:
    """Probes one engine; concurrent callers share the probe in flight, so that a database that
    hangs holds at most one probe (and one connection), however often readiness is asked."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._running: asyncio.Task[None] | None = None

    async def check(self, within: float) -> None:
        """Return when a write could start within ``within`` seconds; StorageError otherwise.

        On timeout the probe goes on in the background (a driver call cannot always be
        interrupted) and the next check waits on it instead of starting another.
        """
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._write(within), name="database write probe")
            self._running.add_done_callback(_retrieve)
        try:
            await asyncio.wait_for(asyncio.shield(self._running), within)
        except TimeoutError:
            raise StorageError(f"no write could start within {within:g} s") from None

    async def _write(self, within: float) -> None:
        async with db.translated(), self.engine.connect() as conn:
            await conn.execution_options(immediate=True)
            async with conn.begin() as transaction:
                if conn.dialect.name == "postgresql":
                    # give up on a lock before the caller's deadline, not when the lock is freed
                    millis = str(max(1, int(within * 500)))
                    await conn.execute(sa.select(sa.func.set_config("lock_timeout", millis, True)))
                await conn.execute(sa.update(_VERSION).values(version_num=_VERSION.c.version_num))
                await transaction.rollback()


def _retrieve(task: asyncio.Task[None]) -> None:
    # a probe nobody waits for any more must not log "exception was never retrieved"
    with contextlib.suppress(asyncio.CancelledError):
        error = task.exception()
        if error is not None:
            log.debug("database write probe failed: %s", error)
