"""Waking the delivery worker at once when notifications are written, instead of at its next tick.

In one process (SQLite, or ``serve`` on PostgreSQL) the writer calls :meth:`Wakeup.poke` after
its transaction commits. Across processes on PostgreSQL the writer's transaction runs
``NOTIFY headwater_deliveries`` (:func:`headwater.storage.inbound.notify`), delivered when it
commits, and every worker process :func:`listen`\\ s on that channel and pokes its own loop. A lost
wake-up costs at most one tick: the worker still claims on its timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.storage import inbound

log = logging.getLogger(__name__)

RELISTEN_SECONDS = 5.0


class Wakeup:
    """Events the delivery loops of this process wait on; :meth:`poke` sets them all."""

    def __init__(self) -> None:
        self._events: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        """An event set by every later :meth:`poke` (the loop clears it when it wakes)."""
        event = asyncio.Event()
        self._events.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._events.discard(event)

    def poke(self) -> None:
        """Wake every subscribed loop (call from the event loop's thread)."""
        for event in self._events:
            event.set()


async def listen(engine: AsyncEngine, wakeup: Wakeup, stop: asyncio.Event) -> None:
    """On PostgreSQL, poke ``wakeup`` for every ``NOTIFY`` on the deliveries channel until
    ``stop`` is set; a dropped connection is opened again. Returns at once on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    while not stop.is_set():
        try:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection

                def heard(*_: object) -> None:
                    wakeup.poke()

                await driver.add_listener(inbound.CHANNEL, heard)
                try:
                    await stop.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await driver.remove_listener(inbound.CHANNEL, heard)
        except Exception as error:  # the database went away: listen again shortly
            log.warning("listening for delivery wake-ups failed: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RELISTEN_SECONDS)
