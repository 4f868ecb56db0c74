"""Waking the delivery loops: in memory, and across processes by PostgreSQL's NOTIFY."""

from __future__ import annotations

import asyncio
import time

from headwater.delivery import wakeup
from headwater.storage import db, inbound


async def test_a_committed_notify_wakes_the_listening_loops(db_url: str) -> None:
    engine = db.make_engine(db_url)
    woken = wakeup.Wakeup()
    heard = woken.subscribe()
    stop = asyncio.Event()
    listening = asyncio.create_task(wakeup.listen(engine, woken, stop))
    try:
        if engine.dialect.name == "sqlite":
            await asyncio.wait_for(listening, 5)  # one process: nothing to listen to
            assert not heard.is_set()
            woken.poke()
            assert heard.is_set()
            return
        # a notify sent before the listener is connected is lost: send until one is heard
        deadline = time.monotonic() + 5
        while not heard.is_set():
            assert time.monotonic() < deadline, "no NOTIFY reached the listener"
            async with db.transaction(engine) as conn:
                await inbound.notify(conn)
            await asyncio.sleep(0.01)
        assert not listening.done()
    finally:
        stop.set()
        await asyncio.wait_for(listening, 5)
        await engine.dispose()
