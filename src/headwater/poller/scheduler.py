"""The poller loop: claim due pollers, run them, repeat. It decides nothing itself.

Each turn claims as many due pollers as there are free slots (``HEADWATER_POLL_CONCURRENCY``)
with one short statement that leases them, and runs each instance's claimed pollers one after
another in a task of their own (:func:`headwater.poller.service.run_claimed`). The loop sleeps
until the next planned run falls due (at most ``HEADWATER_TICK_SECONDS``) or a task ends, so a
poller due at ``t`` starts shortly after ``t``. On stop, unfinished polls are cancelled and their
leases given back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from headwater import errors, logs
from headwater.poller import context, service
from headwater.storage import db, pollers

log = logging.getLogger(__name__)

ERROR_PAUSE_SECONDS = 1.0
MARGIN_SECONDS = 0.002  # wake just after a run falls due, not just before

Runner = Callable[[context.Deps, list[pollers.Claimed]], Coroutine[Any, Any, list[service.Outcome]]]
"""What runs one instance's claimed pollers (:func:`headwater.poller.service.run_claimed`)."""


async def run(container: context.Deps, stop: asyncio.Event) -> None:
    """Run due pollers until ``stop`` is set (the background loop of ``serve`` and ``worker``)."""
    await Scheduler(container).run(stop)


def by_instance(claimed: list[pollers.Claimed]) -> list[list[pollers.Claimed]]:
    """Claimed pollers grouped by instance, in claim order: each group runs one after another."""
    groups: dict[int, list[pollers.Claimed]] = {}
    for one in claimed:
        groups.setdefault(one.instance_id, []).append(one)
    return list(groups.values())


class Scheduler:
    """Claims due pollers and runs them, at most ``concurrency`` at a time."""

    def __init__(
        self,
        deps: context.Deps,
        *,
        concurrency: int | None = None,
        runner: Runner = service.run_claimed,
    ) -> None:
        self.deps = deps
        self.concurrency = concurrency or deps.settings.poll_concurrency
        self.runner = runner
        self.tick = deps.settings.tick_seconds
        self._claims = itertools.count(1)
        self._running: dict[asyncio.Task[list[service.Outcome]], list[pollers.Claimed]] = {}
        self._wake = asyncio.Event()

    @property
    def busy(self) -> int:
        return sum(len(group) for group in self._running.values())

    async def run(self, stop: asyncio.Event) -> None:
        log.info("poller scheduler started (%d slots)", self.concurrency)
        try:
            while not stop.is_set():
                free = self.concurrency - self.busy
                claimed: list[pollers.Claimed] = []
                claimed_at: dt.datetime | None = None
                if free > 0:
                    claimed_at = dt.datetime.now(dt.UTC)
                    try:
                        claimed = await self.claim(free, now=claimed_at)
                    except errors.StorageError as error:
                        log.warning("claiming due pollers failed: %s", error.message)
                        await _wait(stop, ERROR_PAUSE_SECONDS)
                        continue
                    for group in by_instance(claimed):
                        self._start(group)
                if claimed and len(claimed) == free:
                    continue  # more may be due right now
                self._wake.clear()
                await _wait_any(stop, self._wake, await self._pause(claimed_at))
        finally:
            await self._shutdown()
            log.info("poller scheduler stopped")

    async def claim(self, limit: int, *, now: dt.datetime) -> list[pollers.Claimed]:
        """Lease up to ``limit`` pollers due at ``now`` under a fresh owner name."""
        owner = f"{self.deps.node_id}/{next(self._claims)}"
        until = now + dt.timedelta(seconds=self.deps.settings.poll_lease_seconds)
        return await db.write(
            self.deps.engine,
            lambda conn: pollers.claim(conn, owner=owner, now=now, until=until, limit=limit),
        )

    async def _pause(self, claimed_at: dt.datetime | None) -> float:
        """Until the next planned run, at most a tick. A run that was due when the last claim
        ran and yet was not claimed (its instance is busy, another worker has it) waits a tick."""
        if claimed_at is None:
            return self.tick
        now = dt.datetime.now(dt.UTC)
        try:
            async with db.reading(self.deps.engine) as conn:
                due = await pollers.next_due(conn, now=now)
        except errors.StorageError:
            return self.tick
        if due is None or due <= claimed_at:
            return self.tick
        return min(self.tick, max(0.0, (due - now).total_seconds() + MARGIN_SECONDS))

    def _start(self, group: list[pollers.Claimed]) -> None:
        task = asyncio.create_task(
            self.runner(self.deps, group),
            name=f"poll-instance-{group[0].instance_id}",
            context=logs.context(instance_id=group[0].instance_id),
        )
        self._running[task] = group
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[list[service.Outcome]]) -> None:
        self._running.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("a poll task crashed", exc_info=task.exception())
        self._wake.set()

    async def _shutdown(self) -> None:
        running = dict(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for group in running.values():
            ids, owner = [c.id for c in group], group[0].lease_owner
            with contextlib.suppress(errors.HeadwaterError):
                release = functools.partial(pollers.release, poller_ids=ids, owner=owner)
                await db.write(self.deps.engine, release)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
