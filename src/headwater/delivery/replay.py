"""Replays: stored events of an instance sent again, as new notifications behind those queued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.delivery import outbox
from headwater.domain import ceql, instance_config
from headwater.errors import ConflictError, InputError, NotFoundError
from headwater.storage import deliveries, events

MAX_REPLAY = 10_000


def conditions(where: str | None) -> list[Any]:
    """The ``where`` of a replay, over the fields of the events API; InputError when it is bad."""
    return events.translate(ceql.parse(where)) if where else []


async def write(
    conn: AsyncConnection,
    *,
    organization_id: int,
    instance_id: int,
    start: dt.datetime,
    end: dt.datetime,
    where: Sequence[Any],
    now: dt.datetime,
) -> tuple[int, list[int]]:
    """Write the notifications that replay the instance's events dated in [``start``, ``end``)
    and matching ``where`` (made by :func:`conditions`) in ``conn``'s transaction; the number of
    events and the new delivery ids, in order.

    NotFoundError when the organization has no such instance, ConflictError when it has no
    callback URL, InputError when the range holds more than :data:`MAX_REPLAY` events.
    """
    owned = await deliveries.sending(conn, instance_id, organization_id=organization_id)
    target = await deliveries.target(conn, instance_id)
    if owned is None or target is None:
        raise NotFoundError(f"No instance with id {instance_id}.")
    url = instance_config.InstanceConfig.read(target.configuration).configured_callback_url
    if url is None:
        raise ConflictError(
            f"Instance {instance_id} has no event.notification.callback.url to send to."
        )
    found = await events.between(
        conn, instance_id, start=start, end=end, where=where, limit=MAX_REPLAY + 1
    )
    if len(found) > MAX_REPLAY:
        raise InputError(
            problems=[("to", f"the range holds more than {MAX_REPLAY} events; replay less at once")]
        )
    created = await outbox.write(
        conn,
        instance_id=instance_id,
        target=target,
        url=url.strip(),
        events=[outbox.Event.of(event) for event in found],
        kind="replay",
        link=False,
        now=now,
    )
    return len(found), created
