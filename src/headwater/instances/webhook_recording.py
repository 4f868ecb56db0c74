"""One webhook's unit of work: its events, their versions, its notification, and the webhook
itself kept as received (:mod:`headwater.storage.inbound`) with its outcome.

Its changes are recorded as a poll's are: a message id already accepted stores nothing; what
the instance's pollers know of the records concerned decides what is new (a pure function,
:func:`headwater.domain.recording.after_webhook`); the events, the versions they carry (so that
the safety-net poll does not announce them again) and their notification (joining the
instance's notification still waiting, up to 20 events) are written in the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.delivery import joining, outbox
from headwater.domain import changes, config, dates, detect, inbound, recording, records
from headwater.storage import deliveries, events, instances, pollers, versions
from headwater.storage import inbound as stored

_NOT_KEPT = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one webhook: the HTTP status to answer, and why."""

    status: int
    message: str
    instance_id: int | None = None
    event_ids: tuple[int, ...] = ()
    duplicate: bool = False


async def record(
    conn: AsyncConnection,
    instance: instances.Instance,
    hub_key: str,
    heard: list[inbound.Change],
    keep: Keeper,
    message_id: str | None,
) -> Outcome:
    """Store the events ``heard`` reports for ``instance``, once per message id, with their
    notification, in the caller's transaction (the instance already locked)."""
    if message_id and await stored.accepted_before(conn, instance.id, message_id):
        await keep.insert(conn, stored.DUPLICATE, "a replay", instance.id, message_id)
        return Outcome(200, f"Already received: {message_id}.", instance.id, duplicate=True)
    resources = instance.config.resources
    rows = (
        {p.resource: p for p in await pollers.for_instance(conn, instance.id)} if resources else {}
    )
    # the pollers of these records record nothing meanwhile (a safety-net poll that read the
    # same change either committed first, and its version is seen below, or waits for ours)
    await pollers.lock(conn, [rows[t].id for t in {c.object_type for c in heard} if t in rows])
    known: dict[str, dict[str, changes.Known]] = {}
    for object_type in {c.object_type for c in heard}:
        if object_type in rows:
            ids = [c.object_id for c in heard if c.object_type == object_type]
            known[object_type] = await versions.versions(conn, rows[object_type].id, ids)
    plan = recording.after_webhook([heard_of(change, resources) for change in heard], known)
    found = [
        events.NewEvent(
            object_type=e.object_type,
            object_id=e.object_id,
            event_type=e.event_type,
            date=e.date or keep.now,
            raw=e.raw,
        )
        for e in plan.events
    ]
    event_ids = await events.insert(
        conn,
        instance_id=instance.id,
        element_key=instance.element_key,
        hub_key=hub_key,
        poll_date=keep.now,
        found=found,
    )
    for object_type, remembered in plan.remember.items():
        if object_type in rows:
            await versions.remember(conn, rows[object_type].id, remembered)
    if event_ids:
        await joining.enqueue(
            conn,
            instance_id=instance.id,
            trace=keep.trace,
            # the instance as read in this transaction: its settings need no second read
            target=deliveries.Target(
                element_key=instance.element_key,
                configuration=dict(instance.configuration),
                subscription_active=instance.subscription_active,
            ),
            found=[
                outbox.Event.inserted(
                    event_id,
                    new,
                    poll_date=keep.now,
                    element_key=instance.element_key,
                    hub_key=hub_key,
                )
                for event_id, new in zip(event_ids, found, strict=True)
            ],
            now=keep.now,
        )
        await stored.notify(conn)
    await keep.insert(conn, stored.ACCEPTED, None, instance.id, message_id, len(event_ids))
    announced = len(plan.events)
    return Outcome(
        200,
        f"Received: {announced} event(s)"
        + ("" if announced == len(heard) else f", {len(heard) - announced} already announced"),
        instance.id,
        tuple(event_ids),
    )


def heard_of(change: inbound.Change, resources: Mapping[str, config.Resource]) -> recording.Heard:
    """The change with its version: read from its record as the poller of its object type reads
    records (the same version a poll finds), or else its date alone (:data:`detect.HEARD`)."""
    version: changes.Known | None = None
    resource = resources.get(change.object_type)
    if change.record is not None and resource is not None:
        try:
            seen = records.read(change.record, resource, where="the webhook")
        except records.RecordError:
            seen = None
        if seen is not None and seen.object_id == change.object_id:
            version = changes.Known(seen.date_ms, seen.content_hash)
    if version is None and change.date is not None:
        version = changes.Known(dates.to_ms(change.date), detect.HEARD)
    if change.event_type == inbound.UNKNOWN:
        version = None
    return recording.Heard(
        change.object_type, change.object_id, change.event_type, change.date, change.raw, version
    )


@dataclasses.dataclass
class Keeper:
    """Keeps the webhook as received, with its outcome."""

    element_key: str
    received: inbound.Received
    now: dt.datetime
    # the webhook's span (a W3C traceparent), for its notifications' attempts to join
    trace: str | None = None

    async def insert(
        self,
        conn: AsyncConnection,
        outcome: str,
        problem: str | None,
        instance_id: int | None = None,
        message_id: str | None = None,
        event_count: int = 0,
    ) -> None:
        await stored.insert(
            conn,
            stored.Inbound(
                received_at=self.now,
                element_key=self.element_key[:64],
                instance_id=instance_id,
                message_id=message_id[:200] if message_id else None,
                outcome=outcome,
                problem=problem,
                event_count=event_count,
                content_type=self.received.content_type[:200],
                headers={
                    name: value
                    for name, value in self.received.headers.items()
                    if name not in _NOT_KEPT
                },
                body=self.received.body,
            ),
        )
