"""Receiving a provider's webhook: route it, verify it, and record its changes as events.

Every webhook received is kept as it arrived (:mod:`headwater.storage.inbound`) with its outcome.
Its changes go through one unit of work, as a poll's do: lock the instance, skip a message id
already accepted, read what the instance's pollers know of the records concerned, decide (a pure
function, :func:`headwater.domain.recording.after_webhook`), insert the events, remember their
versions (so that the safety-net poll does not announce them again), write their notifications
(up to 20 events each) and wake the delivery worker, all in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import errors
from headwater.delivery import outbox, wakeup
from headwater.domain import (
    changes,
    config,
    dates,
    detect,
    inbound,
    inbound_checks,
    recording,
    records,
)
from headwater.elements import registry as registry_module
from headwater.storage import db, events, instances, pollers, secrets, versions
from headwater.storage import inbound as stored

VENDOR_KEY = "event.vendor.signature.key"
FINDER_KEY = "event.notification.instance.finder"
ROUTING_HEADER = "element-instances"
_NOT_KEPT = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one webhook: the HTTP status to answer, and why."""

    status: int
    message: str
    instance_id: int | None = None
    event_ids: tuple[int, ...] = ()
    duplicate: bool = False


class WebhookService:
    """Inbound webhooks for every element that declares them."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        secrets: secrets.SecretBox,
        registry: registry_module.Registry,
        wakeup: wakeup.Wakeup,
    ) -> None:
        self.engine = engine
        self.secrets = secrets
        self.registry = registry
        self.wakeup = wakeup

    async def receive(
        self, element_key: str, path_id: str | None, received: inbound.Received
    ) -> Outcome:
        """Route, verify and record one webhook; never raises for what the provider sent."""
        now = dt.datetime.now(dt.UTC)
        keep = _Keeper(self.engine, element_key, received, now)
        try:
            element = self.registry.get(element_key)
        except errors.NotFoundError:
            element = None
        spec = element.webhooks if element is not None else None
        if element is None or spec is None:
            problem = f"element '{element_key}' receives no webhooks"
            await keep.row(stored.UNROUTED, problem)
            return Outcome(404, f"No webhook route: {problem}; the body was kept.")
        try:
            body = inbound.parse_body(received)
        except inbound.BodyError as exc:
            await keep.row(stored.REFUSED, exc.message)
            return Outcome(400, f"The webhook cannot be read: {exc.message}.")
        instance, tried = await self._route(element_key, path_id, received, body)
        if instance is None:
            problem = f"no {element.name} instance matches ({tried})"
            await keep.row(stored.UNROUTED, problem)
            return Outcome(404, f"No instance for this webhook: {problem}; the body was kept.")
        key = self.secrets.open(instance.secrets).get(VENDOR_KEY)
        verdict = inbound_checks.verify(spec, key, received, now_s=time.time())
        if isinstance(verdict, inbound_checks.Refused):
            await keep.row(stored.REFUSED, verdict.problem, instance.id)
            return Outcome(401, f"The webhook is refused: {verdict.problem}.", instance.id)
        message_id = verdict.message_id
        if not instance.config.receives_webhooks or instance.disabled:
            problem = (
                f"instance {instance.id} takes no webhook events"
                " (events off, event.vendor.type polling, or disabled)"
            )
            await keep.row(stored.IGNORED, problem, instance.id, message_id)
            return Outcome(200, f"Ignored: {problem}.", instance.id)
        try:
            heard = inbound.read_changes(spec, body, message_id=message_id or "")
        except inbound.BodyError as exc:
            await keep.row(stored.REFUSED, exc.message, instance.id, message_id)
            return Outcome(400, f"The webhook cannot be read: {exc.message}.", instance.id)
        outcome = await db.write(
            self.engine,
            lambda conn: self._record(conn, instance, element.hub_key, heard, keep, message_id),
        )
        if outcome.event_ids:
            self.wakeup.poke()
        return outcome

    async def unrouted(self, *, before_id: int | None, limit: int) -> list[stored.Stored]:
        """Webhooks no instance matched, newest first."""
        async with db.reading(self.engine) as conn:
            return await stored.page(
                conn, outcome=stored.UNROUTED, before_id=before_id, limit=limit
            )

    async def of_instance(self, instance_id: int, *, limit: int) -> list[stored.Stored]:
        """The webhooks routed to an instance, newest first."""
        async with db.reading(self.engine) as conn:
            return await stored.of_instance(conn, instance_id, limit=limit)

    async def _route(
        self,
        element_key: str,
        path_id: str | None,
        received: inbound.Received,
        body: Mapping[str, object],
    ) -> tuple[instances.Instance | None, str]:
        """The instance the webhook is for, and what was tried (for the unrouted message)."""
        tried: list[str] = []
        async with db.reading(self.engine) as conn:
            header = received.header(ROUTING_HEADER)
            candidates: list[int] = []
            if header:
                candidates = inbound.header_instances(header)
                tried.append(f"Element-Instances {header!r}")
            elif path_id is not None:
                found = inbound.path_instance(path_id)
                candidates = [found] if found is not None else []
                tried.append(f"path id {path_id!r}")
            for candidate in candidates:
                instance = await instances.get(conn, candidate, organization_id=None)
                if instance is not None and instance.element_key == element_key:
                    return instance, ""
            if candidates or header:
                return None, ", ".join(tried) + " names none of its instances"
            for instance in await instances.of_element(conn, element_key):
                finder = instance.configuration.get(FINDER_KEY)
                if isinstance(finder, str) and inbound.finder_matches(
                    finder, instance.configuration, body
                ):
                    return instance, ""
        return None, "no Element-Instances header, no instance id in the path, no finder matched"

    async def _record(
        self,
        conn: AsyncConnection,
        instance: instances.Instance,
        hub_key: str,
        heard: list[inbound.Change],
        keep: _Keeper,
        message_id: str | None,
    ) -> Outcome:
        if not await instances.lock(conn, instance.id):
            return Outcome(404, f"Instance {instance.id} was deleted meanwhile.")
        if message_id and await stored.accepted_before(conn, instance.id, message_id):
            await keep.insert(conn, stored.DUPLICATE, "a replay", instance.id, message_id)
            return Outcome(200, f"Already received: {message_id}.", instance.id, duplicate=True)
        rows = {p.resource: p for p in await pollers.for_instance(conn, instance.id)}
        known: dict[str, dict[str, changes.Known]] = {}
        for object_type in {c.object_type for c in heard}:
            if object_type in rows:
                ids = [c.object_id for c in heard if c.object_type == object_type]
                known[object_type] = await versions.versions(conn, rows[object_type].id, ids)
        plan = recording.after_webhook(
            [_heard(change, instance.config.resources) for change in heard], known
        )
        event_ids = await events.insert(
            conn,
            instance_id=instance.id,
            element_key=instance.element_key,
            hub_key=hub_key,
            poll_date=keep.now,
            found=[
                events.NewEvent(
                    object_type=e.object_type,
                    object_id=e.object_id,
                    event_type=e.event_type,
                    date=e.date or keep.now,
                    raw=e.raw,
                )
                for e in plan.events
            ],
        )
        for object_type, remembered in plan.remember.items():
            if object_type in rows:
                await versions.remember(conn, rows[object_type].id, remembered)
        if event_ids:
            await outbox.enqueue(
                conn,
                instance_id=instance.id,
                event_ids=event_ids,
                now=keep.now,
                batch_size=outbox.WEBHOOK_BATCH,
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


def _heard(change: inbound.Change, resources: Mapping[str, config.Resource]) -> recording.Heard:
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
class _Keeper:
    """Keeps the webhook as received, with its outcome."""

    engine: AsyncEngine
    element_key: str
    received: inbound.Received
    now: dt.datetime

    async def row(
        self,
        outcome: str,
        problem: str | None,
        instance_id: int | None = None,
        message_id: str | None = None,
    ) -> None:
        await db.write(
            self.engine,
            lambda conn: self.insert(conn, outcome, problem, instance_id, message_id),
        )

    async def insert(
        self,
        conn: AsyncConnection,
        outcome: str,
        problem: str | None,
        instance_id: int | None,
        message_id: str | None,
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
