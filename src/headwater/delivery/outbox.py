"""The outbox: notifications for new events, written in the transaction that stores the events.

A notification carries up to ten events (polling) or twenty (webhooks) of one object type, in the
order they were found, in the JSON of DESIGN.md §4. Its body is built once and stored; every
attempt sends those exact bytes, and its ``message.eventId`` (``msg_<32 hex>``) stays the same
across retries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import dates, instance_config
from headwater.storage import deliveries, events

POLLING_BATCH = 10
WEBHOOK_BATCH = 20
ENABLED_KEY = instance_config.ENABLED_KEY
CALLBACK_KEY = instance_config.CALLBACK_KEY
SCHEDULE_KEY = instance_config.SCHEDULE_KEY
SIGNATURE_KEY = "event.notification.signature.key"


@dataclasses.dataclass(frozen=True)
class Event:
    """One stored event, as a notification shows it."""

    id: int
    object_type: str
    object_id: str
    event_type: str
    date: dt.datetime
    poll_date: dt.datetime
    element_key: str
    hub_key: str
    raw: Any

    @classmethod
    def of(cls, stored: events.Event) -> Event:
        """The notification's view of a stored event."""
        return cls(
            id=stored.id,
            object_type=stored.object_type,
            object_id=stored.object_id,
            event_type=stored.event_type,
            date=stored.date,
            poll_date=stored.poll_date,
            element_key=stored.element_key,
            hub_key=stored.hub_key,
            raw=stored.raw,
        )

    @classmethod
    def inserted(
        cls,
        event_id: int,
        new: events.NewEvent,
        *,
        poll_date: dt.datetime,
        element_key: str,
        hub_key: str,
    ) -> Event:
        """The notification's view of an event its caller just inserted as ``new``."""
        return cls(
            id=event_id,
            object_type=new.object_type,
            object_id=new.object_id,
            event_type=new.event_type,
            date=new.date,
            poll_date=poll_date,
            element_key=element_key,
            hub_key=hub_key,
            raw=new.raw,
        )


def new_notification_id() -> str:
    """A notification id: ``msg_`` and 32 hex digits."""
    return "msg_" + uuid.uuid4().hex


def batches(events: Sequence[Event], size: int = POLLING_BATCH) -> Iterator[list[Event]]:
    """Split events, kept in order, into runs of one object type and at most ``size`` events."""
    batch: list[Event] = []
    for event in events:
        if batch and (len(batch) == size or batch[0].object_type != event.object_type):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def body(
    *, notification_id: str, instance_id: int, element_key: str, events: Sequence[Event]
) -> str:
    """The notification's exact JSON text; ``raw`` holds exactly the records of ``events``."""
    object_type = events[0].object_type if events else "unknown"
    message = {
        "eventId": notification_id,
        "instance_id": instance_id,
        "instanceId": instance_id,
        "elementKey": element_key,
        "events": [event_json(event) for event in events],
        "raw": {
            "objectType": object_type,
            object_type: [event.raw for event in events],
            "instance_id": instance_id,
        },
    }
    return json.dumps({"message": message}, ensure_ascii=False, separators=(",", ":"))


def callback_url(configuration: Mapping[str, Any]) -> str | None:
    """Where the instance's notifications go, or None when it has notifications off."""
    return instance_config.InstanceConfig.read(configuration).callback_url


async def enqueue_events(
    conn: AsyncConnection,
    *,
    instance_id: int,
    found: Sequence[Event],
    now: dt.datetime,
    trace: str | None = None,
    batch_size: int = POLLING_BATCH,
) -> list[int]:
    """Write the notifications of ``found``, events the caller just inserted in ``conn``'s
    transaction (none carried by a delivery yet); returns the new delivery ids, in order.

    Nothing is written when the instance has notifications disabled or no callback URL. While the
    instance's subscription is inactive (retries ran out), the deliveries are ``queued`` until
    released."""
    target = await deliveries.target(conn, instance_id)
    if target is None or not found:
        return []
    url = callback_url(target.configuration)
    if url is None:
        return []
    return await write(
        conn,
        instance_id=instance_id,
        target=target,
        url=url,
        events=found,
        kind="events",
        link=True,
        now=now,
        trace=trace,
        batch_size=batch_size,
    )


async def write(
    conn: AsyncConnection,
    *,
    instance_id: int,
    target: deliveries.Target,
    url: str,
    events: Sequence[Event],
    kind: str,
    link: bool,
    now: dt.datetime,
    trace: str | None = None,
    batch_size: int = POLLING_BATCH,
) -> list[int]:
    """Insert one delivery per batch of ``events`` (at most ``batch_size`` each: 10 polled, 20
    from webhooks); ``link`` records it as the events' delivery, ``trace`` (a W3C traceparent)
    the trace its attempts join."""
    status = deliveries.CREATED if target.subscription_active else deliveries.QUEUED
    created: list[int] = []
    for batch in batches(events, batch_size):
        notification_id = new_notification_id()
        delivery_id = await deliveries.insert(
            conn,
            notification_id=notification_id,
            instance_id=instance_id,
            kind=kind,
            url=url,
            body=body(
                notification_id=notification_id,
                instance_id=instance_id,
                element_key=target.element_key,
                events=batch,
            ),
            status=status,
            now=now,
            traceparent=trace,
        )
        if link:
            await deliveries.link_events(conn, delivery_id, [event.id for event in batch])
        created.append(delivery_id)
    return created


def event_json(event: Event) -> dict[str, Any]:
    """One item of a notification's ``events``."""
    return {
        "id": event.id,
        "objectType": event.object_type,
        "objectId": event.object_id,
        "eventType": event.event_type,
        "date": dates.iso(event.date),
        "pollDate": dates.iso(event.poll_date),
        "elementKey": event.element_key,
        "hubKey": event.hub_key,
    }


def test_body(*, notification_id: str, instance_id: int, element_key: str, now: dt.datetime) -> str:
    """A test notification: the usual shape, one event of type ``test`` that stands for nothing."""
    event = {
        "id": None,
        "objectType": "test",
        "objectId": notification_id,
        "eventType": "UNKNOWN",
        "date": dates.iso(now),
        "pollDate": dates.iso(now),
        "elementKey": element_key,
        "hubKey": "test",
    }
    message = {
        "eventId": notification_id,
        "instance_id": instance_id,
        "instanceId": instance_id,
        "elementKey": element_key,
        "test": True,
        "events": [event],
        "raw": {
            "objectType": "test",
            "test": [{"message": "A test notification from Headwater.", "date": dates.iso(now)}],
            "instance_id": instance_id,
        },
    }
    return json.dumps({"message": message}, ensure_ascii=False, separators=(",", ":"))
