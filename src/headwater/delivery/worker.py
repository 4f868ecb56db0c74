"""The delivery loop: claim due deliveries, send them concurrently, keep the outbox tidy.

Up to ``delivery_concurrency`` deliveries are in flight, at most one per instance (the claim only
returns the head of each instance's queue). The loop decides nothing itself: it claims, hands
each delivery to the service, and claims again when one finishes, when new notifications are
written (:mod:`headwater.delivery.wakeup`), or when the tick passes. Every few seconds it
refreshes the queue gauges; every ``HEADWATER_ALERT_CHECK_SECONDS`` it looks for alert
transitions (:mod:`headwater.delivery.alerts`); every hour it purges what retention allows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater import logs, metrics
from headwater.delivery import alerts, dispatch, wakeup
from headwater.errors import HeadwaterError
from headwater.settings import Settings

log = logging.getLogger(__name__)

STATS_EVERY_SECONDS = 5.0
RETENTION_EVERY_SECONDS = 3600.0
ERROR_PAUSE_SECONDS = 1.0
DRAIN_SECONDS = 5.0


class Deps(Protocol):
    """What the loop needs of the process (``bootstrap.Container`` has it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def dispatcher(self) -> dispatch.Dispatcher: ...
    @property
    def alerts(self) -> alerts.AlertWatch: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def wakeup(self) -> wakeup.Wakeup: ...


async def run(container: Deps, stop: asyncio.Event) -> None:
    """Deliver until ``stop`` is set; in-flight attempts get a moment to finish and record."""
    delivering = container.dispatcher
    settings = container.settings
    in_flight: set[asyncio.Task[dispatch.Result | None]] = set()
    # set when a delivery finishes, and when new notifications are written (webhooks' fast path)
    wake = container.wakeup.subscribe()
    listening = asyncio.create_task(
        wakeup.listen(container.engine, container.wakeup, stop), name="delivery-wakeups"
    )
    next_stats = 0.0
    next_retention = time.monotonic() + min(60.0, RETENTION_EVERY_SECONDS)
    purging: asyncio.Task[None] | None = None
    next_alerts = time.monotonic() + settings.alert_check_seconds
    checking: asyncio.Task[None] | None = None

    def finished(task: asyncio.Task[dispatch.Result | None]) -> None:
        in_flight.discard(task)
        wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery attempt failed: %s", task.exception(), exc_info=task.exception())

    log.info(
        "delivery worker %s started (concurrency %d)",
        delivering.owner,
        settings.delivery_concurrency,
    )
    try:
        while not stop.is_set():
            wake.clear()
            free = settings.delivery_concurrency - len(in_flight)
            pause = settings.tick_seconds
            if free > 0:
                try:
                    claimed = await delivering.claim(free)
                except HeadwaterError as error:
                    log.warning("claiming deliveries failed: %s", error)
                    claimed, pause = [], ERROR_PAUSE_SECONDS
                for item in claimed:
                    ids = logs.context(
                        delivery_id=item.id,
                        notification_id=item.notification_id,
                        instance_id=item.instance_id,
                    )
                    task = asyncio.create_task(
                        delivering.deliver(item), name=f"delivery-{item.id}", context=ids
                    )
                    in_flight.add(task)
                    task.add_done_callback(finished)
                if claimed and len(claimed) == free:
                    pause = 0.0  # more may be due right now
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + STATS_EVERY_SECONDS
                await _refresh_gauges(delivering)
            if now >= next_retention and (purging is None or purging.done()):
                # beside the loop: a long purge must not hold up claiming
                next_retention = now + RETENTION_EVERY_SECONDS
                purging = asyncio.create_task(_purge(delivering), name="delivery-retention")
            if now >= next_alerts and (checking is None or checking.done()):
                next_alerts = now + settings.alert_check_seconds
                checking = asyncio.create_task(_check_alerts(container), name="alert-check")
            if pause > 0:
                await _wait_any(stop, wake, pause)
    finally:
        container.wakeup.unsubscribe(wake)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        for chore in (purging, checking):
            if chore is not None and not chore.done():
                chore.cancel()
                await asyncio.gather(chore, return_exceptions=True)
        if in_flight:
            _, pending = await asyncio.wait(in_flight, timeout=DRAIN_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("delivery worker %s stopped", delivering.owner)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _refresh_gauges(delivering: dispatch.Dispatcher) -> None:
    try:
        stats = await delivering.queue_stats()
    except HeadwaterError as error:
        log.warning("reading the delivery queue failed: %s", error)
        return
    for status, count in stats.by_status.items():
        metrics.DELIVERY_QUEUE_DEPTH.labels(status=status).set(count)
    age = 0.0
    if stats.oldest_undelivered is not None:
        age = max((dt.datetime.now(dt.UTC) - stats.oldest_undelivered).total_seconds(), 0.0)
    metrics.DELIVERY_OLDEST_UNDELIVERED_SECONDS.set(age)


async def _check_alerts(container: Deps) -> None:
    try:
        await container.alerts.check()
        counts = await container.alerts.firing_counts()
    except HeadwaterError as error:
        log.warning("checking the alerts failed: %s", error)
        return
    except Exception:
        log.exception("checking the alerts crashed; the next check runs as usual")
        return
    for name in ("poller", "instance", "subscription", "backlog"):
        metrics.ALERTS_FIRING.labels(condition=name).set(counts.get(name, 0))


async def _purge(delivering: dispatch.Dispatcher) -> None:
    try:
        purged = await delivering.purge()
    except HeadwaterError as error:
        log.warning("retention purge failed: %s", error)
        return
    if purged.events or purged.deliveries:
        log.info(
            "retention: purged %d event(s) and %d delivery(ies) older than %g days",
            purged.events,
            purged.deliveries,
            delivering.settings.retention_days,
        )
