"""The deliveries service the entry points use: the delivery log with its attempts, releasing
queued deliveries, replaying stored events, a test notification, and the subscriptions.

Everything it answers is a typed value (:class:`View`, :class:`Replayed`,
:class:`headwater.delivery.subscriptions.Subscription`); the API turns those into JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import metrics
from headwater.delivery import outbox, replay, sender, signed, subscriptions
from headwater.domain import ceql, instance_config
from headwater.errors import ConflictError, NotFoundError
from headwater.settings import Settings
from headwater.storage import db, deliveries, delivery_log, secrets

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class View:
    """A delivery and its attempts, oldest first."""

    delivery: deliveries.Delivery
    attempts: list[deliveries.Attempt]


@dataclasses.dataclass(frozen=True)
class Replayed:
    """How many stored events a replay sends again, and the deliveries that carry them."""

    event_count: int
    deliveries: list[View]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DeliveryService:
    """Notifications as their organization sees them: read, released, replayed, tested."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        secrets: secrets.SecretBox,
        post: sender.Sender | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.engine = engine
        self.box = secrets
        self.sender: sender.Sender = post or sender.AiohttpSender(
            http,
            timeout_seconds=settings.delivery_timeout_seconds,
            allow_private=settings.allow_private_callbacks,
        )
        self.clock = clock

    # the delivery log

    async def page(
        self, *, organization_id: int, where: str | None, before_id: int | None, limit: int
    ) -> list[View]:
        """The organization's deliveries matching ``where``, newest first, with their attempts."""
        clauses = delivery_log.translate(ceql.parse(where)) if where else []
        async with db.reading(self.engine) as conn:
            found = await delivery_log.page(
                conn,
                organization_id=organization_id,
                where=clauses,
                before_id=before_id,
                limit=limit,
            )
            tried = await delivery_log.attempts_of(conn, [d.id for d in found])
        return [View(delivery=d, attempts=tried[d.id]) for d in found]

    async def views(self, delivery_ids: Sequence[int]) -> list[View]:
        """The deliveries ``delivery_ids`` with their attempts, in id order."""
        async with db.reading(self.engine) as conn:
            found = await delivery_log.by_ids(conn, delivery_ids)
            tried = await delivery_log.attempts_of(conn, [d.id for d in found])
        return [View(delivery=d, attempts=tried[d.id]) for d in found]

    # acting on it

    async def release(self, *, organization_id: int, where: str | None) -> list[View]:
        """Re-queue the organization's ``queued`` deliveries matching ``where`` (all when None)
        as ``created``, in order, and reactivate their instances' subscriptions; answers the
        released, in id order."""
        clauses = delivery_log.translate(ceql.parse(where)) if where else []
        now = self.clock()

        async def release(conn: AsyncConnection) -> list[int]:
            ids = await delivery_log.ids_matching(
                conn, organization_id=organization_id, where=clauses, status=deliveries.QUEUED
            )
            return await deliveries.release(conn, ids, now=now)

        released = await db.write(self.engine, release)
        if released:
            log.info("released %d queued delivery(ies): %s", len(released), released)
        return await self.views(released)

    async def replay(
        self,
        *,
        organization_id: int,
        instance_id: int,
        start: dt.datetime,
        end: dt.datetime,
        where: str | None,
    ) -> Replayed:
        """Send the instance's stored events dated in [``start``, ``end``) (and matching
        ``where``) again, as new notifications behind those already queued."""
        write = functools.partial(
            replay.write,
            organization_id=organization_id,
            instance_id=instance_id,
            start=start,
            end=end,
            where=replay.conditions(where),
            now=self.clock(),
        )
        event_count, delivery_ids = await db.write(self.engine, write)
        return Replayed(event_count=event_count, deliveries=await self.views(delivery_ids))

    async def send_test(self, *, organization_id: int, instance_id: int) -> View:
        """Send a signed test notification now, outside the instance's queue; the delivery.

        The test does not count against the subscription: a failure neither retries nor queues.
        """
        async with db.reading(self.engine) as conn:
            target = await deliveries.sending(conn, instance_id, organization_id=organization_id)
        if target is None:
            raise NotFoundError(f"No instance with id {instance_id}.")
        url = instance_config.InstanceConfig.read(target.configuration).configured_callback_url
        if url is None:
            raise ConflictError(
                f"Instance {instance_id} has no event.notification.callback.url to send a test to."
            )
        notification_id = outbox.new_notification_id()
        started = self.clock()
        text = outbox.test_body(
            notification_id=notification_id,
            instance_id=instance_id,
            element_key=target.element_key,
            now=started,
        )
        body = text.encode()
        outcome = await self.sender.post(
            url.strip(), body, signed.headers(self.box, target, notification_id, body, started)
        )
        attempt = signed.attempt(started, outcome)
        metrics.DELIVERY_ATTEMPT_SECONDS.observe(outcome.latency_ms / 1000)
        store = functools.partial(
            deliveries.insert_finished,
            notification_id=notification_id,
            instance_id=instance_id,
            kind="test",
            url=url.strip(),
            body=text,
            status=deliveries.DELIVERED if outcome.ok else deliveries.FAILED,
            attempt=attempt,
            error=attempt.error,
        )
        (view,) = await self.views([await db.write(self.engine, store)])
        return view

    # subscriptions

    async def subscription_page(
        self, *, organization_id: int, after_id: int | None, limit: int
    ) -> list[subscriptions.Subscription]:
        """Up to ``limit`` of the organization's subscriptions after instance ``after_id``."""
        return await subscriptions.page(
            self.engine, organization_id=organization_id, after_id=after_id, limit=limit
        )

    async def subscription(
        self, *, organization_id: int, instance_id: int
    ) -> subscriptions.Subscription:
        """The subscription of instance ``instance_id``; NotFoundError when it has none."""
        return await subscriptions.get(
            self.engine, organization_id=organization_id, instance_id=instance_id
        )
