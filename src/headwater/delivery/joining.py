"""Events joining the instance's notification that still waits, instead of queuing behind it.

Webhooks bring changes one at a time; while an instance's notification waits its turn (one in
flight per instance), the next changes join it, up to the batch size (20 for webhooks), so a
burst leaves as a few full notifications rather than a queue of single ones. A notification is
joined only while no attempt has taken it (:mod:`headwater.storage.open_deliveries`); its body,
rebuilt, reads exactly as if it had been built with every event it carries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.delivery import outbox
from headwater.storage import deliveries, open_deliveries

Event = outbox.Event


async def enqueue(
    conn: AsyncConnection,
    *,
    instance_id: int,
    target: deliveries.Target,
    found: Sequence[Event],
    now: dt.datetime,
    trace: str | None = None,
    batch_size: int = outbox.WEBHOOK_BATCH,
) -> list[int]:
    """Write the notifications of ``found`` (events just inserted), the first ones joining the
    instance's waiting notification when it has room; ``target`` is the instance's settings as
    the caller read them in this transaction; ``trace`` the trace new notifications' attempts
    join (a joined notification keeps its own). Returns the delivery ids, in order."""
    url = outbox.callback_url(target.configuration)
    if url is None or not found:
        return []
    joined: list[int] = []
    if target.subscription_active:
        taken = await _join(conn, instance_id, target, url, found, batch_size)
        if taken:
            joined, found = [taken[0]], found[taken[1] :]
    if not found:
        return joined
    return joined + await outbox.write(
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


async def _join(
    conn: AsyncConnection,
    instance_id: int,
    target: deliveries.Target,
    url: str,
    found: Sequence[Event],
    batch_size: int,
) -> tuple[int, int] | None:
    """Add the leading events of ``found`` to the instance's open notification; its id and how
    many joined, or None."""
    tail = await open_deliveries.tail(conn, instance_id, kind="events")
    if tail is None or tail.url != url:
        return None
    text, count = joined(tail.body, found, batch_size)
    if count == 0:
        return None
    await open_deliveries.rewrite(conn, tail.id, text)
    await deliveries.link_events(conn, tail.id, [event.id for event in found[:count]])
    return tail.id, count


def joined(text: str, found: Sequence[Event], batch_size: int) -> tuple[str, int]:
    """The notification ``text`` with the leading events of ``found`` that fit added (those of
    its object type, up to ``batch_size`` in all), and how many; the same message otherwise."""
    message = json.loads(text)["message"]
    carried = message["events"]
    object_type = message["raw"]["objectType"]
    count = 0
    for event in found[: max(0, batch_size - len(carried))]:
        if event.object_type != object_type:
            break
        count += 1
    if count == 0:
        return text, 0
    carried.extend(outbox.event_json(event) for event in found[:count])
    message["raw"][object_type].extend(event.raw for event in found[:count])
    return json.dumps({"message": message}, ensure_ascii=False, separators=(",", ":")), count
