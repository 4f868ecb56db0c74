"""Receiving a provider's webhook: route it, verify it, and record its changes as events.

Every webhook received is kept as it arrived (:mod:`headwater.storage.inbound`) with its outcome.
Routing, verification and recording (:mod:`headwater.instances.webhook_recording`) are one unit
of work, one transaction (on SQLite, webhooks arriving together commit together); when it stored
events, the delivery worker is woken at once (:mod:`headwater.delivery.wakeup`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import errors, tracing
from headwater.delivery import wakeup
from headwater.domain import inbound, inbound_checks
from headwater.elements import element as element_module
from headwater.elements import registry as registry_module
from headwater.instances import webhook_recording as recorded
from headwater.storage import db, grouped, instances, secrets
from headwater.storage import inbound as stored

VENDOR_KEY = "event.vendor.signature.key"
FINDER_KEY = "event.notification.instance.finder"
ROUTING_HEADER = "element-instances"
T = TypeVar("T")


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
    ) -> recorded.Outcome:
        """Route, verify and record one webhook; never raises for what the provider sent."""
        keep = recorded.Keeper(element_key, received, dt.datetime.now(dt.UTC))
        try:
            element = self.registry.get(element_key)
        except errors.NotFoundError:
            element = None
        spec = element.webhooks if element is not None else None
        if element is None or spec is None:
            problem = f"element '{element_key}' receives no webhooks"
            await self._write(lambda conn: keep.insert(conn, stored.UNROUTED, problem))
            return recorded.Outcome(404, f"No webhook route: {problem}; the body was kept.")
        try:
            body = inbound.parse_body(received)
        except inbound.BodyError as exc:
            refused = exc.message
            await self._write(lambda conn: keep.insert(conn, stored.REFUSED, refused))
            return recorded.Outcome(400, f"The webhook cannot be read: {refused}.")
        found = element
        with tracing.span("headwater.webhook", attributes={"headwater.element": element_key}):
            # kept with the notifications: the unit may run in a grouped commit's own task
            keep.trace = tracing.traceparent()
            outcome = await self._write(
                lambda conn: self._handle(conn, found, spec, path_id, body, keep)
            )
        if outcome.event_ids:
            self.wakeup.poke()
        return outcome

    async def _write(self, unit: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        if self.engine.dialect.name == "sqlite":
            # one writer at a time: webhooks arriving together commit in one transaction
            return await grouped.write(self.engine, unit)
        return await db.write(self.engine, unit)

    async def _handle(
        self,
        conn: AsyncConnection,
        element: element_module.Element,
        spec: inbound.Spec,
        path_id: str | None,
        body: Mapping[str, object],
        keep: recorded.Keeper,
    ) -> recorded.Outcome:
        """One unit of work: route, verify, record (or keep the webhook with why not)."""
        instance, tried = await self._route(conn, element.key, path_id, keep.received, body)
        # SQLite's writer lock is held already. On PostgreSQL the instance's webhooks are
        # recorded one at a time (FOR NO KEY UPDATE): a message delivered twice at once is
        # seen as a replay by the second; polls (KEY SHARE) are not held up.
        locked = instance is not None and (
            conn.dialect.name == "sqlite"
            or bool(await instances.lock(conn, instance.id, change=True))
        )
        if instance is None or not locked:
            problem = f"no {element.name} instance matches ({tried})"
            await keep.insert(conn, stored.UNROUTED, problem)
            return recorded.Outcome(
                404, f"No instance for this webhook: {problem}; the body was kept."
            )
        key = self.secrets.open(instance.secrets).get(VENDOR_KEY)
        verdict = inbound_checks.verify(spec, key, keep.received, now_s=time.time())
        if isinstance(verdict, inbound_checks.Refused):
            await keep.insert(conn, stored.REFUSED, verdict.problem, instance.id)
            return recorded.Outcome(401, f"The webhook is refused: {verdict.problem}.", instance.id)
        message_id = verdict.message_id
        if not instance.config.receives_webhooks or instance.disabled:
            problem = (
                f"instance {instance.id} takes no webhook events"
                " (events off, event.vendor.type polling, or disabled)"
            )
            await keep.insert(conn, stored.IGNORED, problem, instance.id, message_id)
            return recorded.Outcome(200, f"Ignored: {problem}.", instance.id)
        try:
            heard = inbound.read_changes(spec, body, message_id=message_id or "")
        except inbound.BodyError as exc:
            await keep.insert(conn, stored.REFUSED, exc.message, instance.id, message_id)
            return recorded.Outcome(400, f"The webhook cannot be read: {exc.message}.", instance.id)
        return await recorded.record(conn, instance, element.hub_key, heard, keep, message_id)

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
        conn: AsyncConnection,
        element_key: str,
        path_id: str | None,
        received: inbound.Received,
        body: Mapping[str, object],
    ) -> tuple[instances.Instance | None, str]:
        """The instance the webhook is for, found by the ``Element-Instances`` header, else by
        the id in the path, else by an instance's finder; or what was tried (for the message)."""
        header = received.header(ROUTING_HEADER)
        tried: list[str] = []
        ways: list[tuple[str, list[int]]] = []
        if header:
            ways.append((f"Element-Instances {header!r}", inbound.header_instances(header)))
        if path_id is not None:
            found = inbound.path_instance(path_id)
            ways.append((f"path id {path_id!r}", [found] if found is not None else []))
        for way, candidates in ways:
            for candidate in candidates:
                instance = await instances.get(conn, candidate, organization_id=None)
                if instance is not None and instance.element_key == element_key:
                    return instance, ""
            tried.append(f"{way} names none of its instances")
        for instance in await instances.of_element_having(conn, element_key, FINDER_KEY):
            finder = instance.configuration.get(FINDER_KEY)
            if isinstance(finder, str) and inbound.finder_matches(
                finder, instance.configuration, body
            ):
                return instance, ""
        tried.append("no instance finder matched")
        if not ways:
            tried.insert(0, "no Element-Instances header nor instance id in the path")
        return None, "; ".join(tried)
