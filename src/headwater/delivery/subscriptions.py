"""Notification subscriptions, made visible: one per instance that has a callback URL.

Cloud Elements keeps a subscription (topic ``instance-{id}-{elementKey}-events``) for each
instance with a callback; ours is the instance itself. It is *active* until delivery retries run
out (or a receiver answers 410); from then on notifications are queued until released.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.domain import instance_config
from headwater.errors import NotFoundError
from headwater.storage import db, instances, subscriptions

CHANNEL = "webhook"


@dataclasses.dataclass(frozen=True)
class Subscription:
    """An instance's subscription: where it sends, whether it is active, what waits."""

    instance_id: int
    element_key: str
    url: str
    active: bool
    events_enabled: bool
    queue: subscriptions.Queue

    @property
    def topic(self) -> str:
        return f"instance-{self.instance_id}-{self.element_key}-events"


async def page(
    engine: AsyncEngine, *, organization_id: int, after_id: int | None, limit: int
) -> list[Subscription]:
    """Up to ``limit`` of the organization's subscriptions in instance id order after
    ``after_id`` (instances without a callback URL have none and are skipped)."""
    found: list[Subscription] = []
    if after_id is not None and after_id >= instances.MAX_ID:
        return found
    async with db.reading(engine) as conn:
        while len(found) < limit:
            rows = await subscriptions.instances_page(
                conn, organization_id=organization_id, after_id=after_id, limit=limit
            )
            if not rows:
                break
            after_id = rows[-1].id
            with_url = [row for row in rows if _url(row.configuration)][: limit - len(found)]
            queues = await subscriptions.queues(conn, [row.id for row in with_url])
            found.extend(_subscription(row, queues[row.id]) for row in with_url)
    return found


async def get(engine: AsyncEngine, *, organization_id: int, instance_id: int) -> Subscription:
    """The subscription of instance ``instance_id``; NotFoundError when it has none."""
    if not 0 < instance_id <= instances.MAX_ID:
        raise NotFoundError(f"No subscription with id {instance_id}.")
    async with db.reading(engine) as conn:
        rows = await subscriptions.instances_page(
            conn, organization_id=organization_id, after_id=None, limit=1, instance_id=instance_id
        )
        if not rows or not _url(rows[0].configuration):
            raise NotFoundError(
                f"No subscription with id {instance_id}: no instance of that id has a callback URL."
            )
        queues = await subscriptions.queues(conn, [instance_id])
    return _subscription(rows[0], queues[instance_id])


def _url(configuration: dict[str, object]) -> str | None:
    return instance_config.InstanceConfig.read(configuration).configured_callback_url


def _subscription(found: subscriptions.Subscriber, queue: subscriptions.Queue) -> Subscription:
    return Subscription(
        instance_id=found.id,
        element_key=found.element_key,
        url=_url(found.configuration) or "",
        active=found.subscription_active,
        events_enabled=found.events_enabled,
        queue=queue,
    )
