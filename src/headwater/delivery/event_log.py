"""The events service the entry points use: the events the pollers stored, newest first, read
with a CEQL ``where``; each with the notification that carried it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.domain import ceql
from headwater.errors import NotFoundError
from headwater.storage import db, events

Event = events.Event
"""A stored event, with the notification that carried it."""


class EventService:
    """Stored events of an organization (or of one of its instances)."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self.engine = engine

    async def page(
        self,
        *,
        organization_id: int,
        instance_id: int | None,
        where: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Event]:
        """Up to ``limit`` events newest first, ids below ``before_id``, matching ``where``;
        InputError for a bad ``where``, before any query."""
        conditions = ceql.parse(where) if where else []
        events.translate(conditions)
        async with db.reading(self.engine) as conn:
            return await events.page(
                conn,
                organization_id=organization_id,
                instance_id=instance_id,
                where=conditions,
                before_id=before_id,
                limit=limit,
            )

    async def get(
        self, *, organization_id: int, event_id: int, instance_id: int | None = None
    ) -> Event:
        """One event (of instance ``instance_id`` when given); NotFoundError when there is none."""
        async with db.reading(self.engine) as conn:
            found = await events.get(
                conn,
                organization_id=organization_id,
                event_id=event_id,
                instance_id=instance_id,
            )
        if found is None:
            owner = "" if instance_id is None else f" on instance {instance_id}"
            raise NotFoundError(f"No event with id {event_id}{owner}.")
        return found
