"""The one unit of work that records changes: a poll's, a reconciliation's.

In one transaction: lock the instance (the lock order is in :mod:`headwater.storage.db`), check
that this worker still holds the poller's lease, read what the poller knows of the records
concerned, let the caller decide (a pure function of that knowledge and the poller row, see
:mod:`headwater.domain.recording`), then insert the events, remember the versions, queue their
notification and write the poller's outcome. A crash anywhere before the commit leaves nothing
behind; a lost lease leaves nothing either (:class:`~headwater.poller.context.LeaseLost`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.delivery import outbox
from headwater.domain import changes, recording
from headwater.poller import context
from headwater.storage import db, events, grouped, instances, poller_outcomes, pollers, versions


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to record, and the poller's outcome."""

    plan: recording.Plan
    finish: poller_outcomes.Finish


@dataclasses.dataclass(frozen=True)
class Recorded:
    """What was committed: the decision, and the ids of the events it stored."""

    decision: Decision
    event_ids: list[int]


Decide = Callable[[Mapping[str, changes.Known], pollers.Poller], Decision]
"""Given the versions the poller knows and its held row: what to record."""


async def record(
    engine: AsyncEngine,
    claimed: pollers.Claimed,
    *,
    element_key: str,
    hub_key: str,
    poll_date: dt.datetime,
    object_ids: Iterable[str] | None,
    decide: Decide,
    trace: str | None = None,
) -> Recorded:
    """Commit what ``decide`` makes of the poller's knowledge of ``object_ids`` (None: of every
    record it knows). Raises ``LeaseLost`` when another worker took the poller over. ``trace``
    (a W3C traceparent) goes with the notifications, for their attempts to join its trace."""

    async def unit(conn: AsyncConnection) -> Recorded | None:
        await instances.lock(conn, claimed.instance_id)
        row = await pollers.hold(conn, claimed.id, owner=claimed.lease_owner)
        if row is None:
            return None
        known = await versions.versions(conn, claimed.id, object_ids)
        decision = decide(known, row)
        plan = decision.plan
        found = [
            events.NewEvent(
                object_type=claimed.resource,
                object_id=event.object_id,
                event_type=event.event_type,
                date=event.date or poll_date,
                raw=event.raw,
            )
            for event in plan.events
        ]
        event_ids = await events.insert(
            conn,
            instance_id=claimed.instance_id,
            element_key=element_key,
            hub_key=hub_key,
            poll_date=poll_date,
            found=found,
        )
        await versions.remember(conn, claimed.id, plan.remember)
        if event_ids:
            # the events as inserted: their notifications need no second read of them
            stored = [
                outbox.Event.inserted(
                    event_id, new, poll_date=poll_date, element_key=element_key, hub_key=hub_key
                )
                for event_id, new in zip(event_ids, found, strict=True)
            ]
            await outbox.enqueue_events(
                conn, instance_id=claimed.instance_id, found=stored, now=poll_date, trace=trace
            )
        await poller_outcomes.finish(
            conn,
            claimed.id,
            owner=claimed.lease_owner,
            now=dt.datetime.now(dt.UTC),
            outcome=decision.finish,
        )
        return Recorded(decision, event_ids)

    if engine.dialect.name == "sqlite":
        # one writer at a time and no row locks: several polls' records commit together
        recorded = await grouped.write(engine, unit)
    else:
        # each transaction locks its instance first (the lock order of storage.db): one each
        recorded = await db.write(engine, unit)
    if recorded is None:
        raise context.LeaseLost()
    return recorded


async def finish_only(
    engine: AsyncEngine, claimed: pollers.Claimed, finish: poller_outcomes.Finish
) -> None:
    """Record an outcome that stores nothing beneath the instance (a poll that read no record
    in its window). It is written together with the other outcomes queued meanwhile
    (:mod:`headwater.storage.grouped`, :func:`headwater.storage.poller_outcomes.finish_many`), each
    under its own lease check. Raises ``LeaseLost`` when another worker took the poller over."""
    item = poller_outcomes.Finishing(claimed.id, claimed.lease_owner, finish)
    if not await grouped.write_one(engine, _finish_many, item):
        raise context.LeaseLost()


async def _finish_many(conn: AsyncConnection, items: list[poller_outcomes.Finishing]) -> list[bool]:
    return await poller_outcomes.finish_many(conn, items, now=dt.datetime.now(dt.UTC))
