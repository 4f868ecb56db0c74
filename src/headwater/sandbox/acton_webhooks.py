"""Act-On's outgoing webhooks, as Svix delivers them: signed, retried, one message per change.

Act-On has no API to register a webhook (it is set up in its UI), so the sandbox's admin surface
stands for that screen:

- ``POST /_admin/webhooks`` ``{"url", "secret"?, "events"?}`` adds an endpoint (``secret``
  defaults to a new ``whsec_…``; ``events`` to ``contact.added`` and ``contact.updated``) → the
  endpoint with its secret (201). ``GET /_admin/webhooks`` → ``{"endpoints", "deliveries"}``
  (every message with each attempt's status, for the test oracle); ``DELETE
  /_admin/webhooks/{id}``; ``PUT /_admin/webhooks/{id}/drop`` ``{"count": n}`` drops the next
  ``n`` messages on purpose (recorded as dropped, never sent; -1: all).

Every contact added or changed (admin, batch, API upsert) is POSTed as JSON
``{"type": "contact.added"|"contact.updated", "timestamp": <ms>, "data": {"listId", "contact"}}``,
where ``contact`` is keyed by column heading with ``_contact_id_``, ``__created_date`` and
``__modified_date`` (epoch milliseconds, numbers): the fields of a list download. Headers:
``svix-id`` (``msg_…``, the same on every retry), ``svix-timestamp`` (Unix seconds of the attempt,
wall-clock time) and ``svix-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``, keyed
by the secret's decoded bytes). Anything but a 2xx is retried after each of ``retry_delays``
(Svix: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); messages are not held back by one retrying.
Deletes send nothing: Act-On has no contact-deleted event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from headwater.domain import signing
from headwater.sandbox import acton_data

EVENTS = ("contact.added", "contact.updated")
RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
TIMEOUT_S = 15
CREATED_DATE = "__created_date"
MODIFIED_DATE = "__modified_date"


@dataclasses.dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    events: tuple[str, ...]
    drop: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "secret": self.secret,
            "events": list(self.events),
            "drop": self.drop,
        }


@dataclasses.dataclass
class Message:
    """One change sent to one endpoint, with every attempt's status (or error)."""

    endpoint_id: str
    id: str
    type: str
    contact_id: str
    body: bytes
    dropped: bool = False
    done: bool = False
    attempts: list[int | str] = dataclasses.field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint_id,
            "id": self.id,
            "type": self.type,
            "contactId": self.contact_id,
            "dropped": self.dropped,
            "done": self.done,
            "attempts": list(self.attempts),
        }


def record(target: acton_data.ContactList, contact: acton_data.Contact) -> dict[str, object]:
    """The contact keyed by column heading, with its dates as epoch milliseconds (numbers, as
    Act-On's webhook payloads write times)."""
    headers = [acton_data.CONTACT_ID, *target.headings]
    found: dict[str, object] = dict(zip(headers, target.row(contact, target.headings), strict=True))
    found[CREATED_DATE] = contact.created_ms
    found[MODIFIED_DATE] = contact.modified_ms
    return found


class Webhooks:
    """The endpoints and their sender; listens to the store's changes."""

    def __init__(
        self, store: acton_data.Store, retry_delays: Sequence[float] = RETRY_DELAYS
    ) -> None:
        self.retry_delays = tuple(retry_delays)
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        store.listeners.append(self._heard)

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """The sender's lifetime, as an aiohttp cleanup context."""
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        yield
        self._loop = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()

    def add(self, url: str, secret: str | None, events: Sequence[str] | None) -> Endpoint:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        chosen = tuple(events) if events is not None else EVENTS
        unknown = [e for e in chosen if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(EVENTS)}")
        endpoint = Endpoint(
            "ep_" + uuid.uuid4().hex[:12], url, secret or signing.generate_key(), chosen
        )
        with self._lock:
            self._endpoints[endpoint.id] = endpoint
        return endpoint

    def remove(self, endpoint_id: str) -> bool:
        with self._lock:
            return self._endpoints.pop(endpoint_id, None) is not None

    def set_drop(self, endpoint_id: str, count: int) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None:
                raise ValueError(f"no endpoint {endpoint_id!r}")
            endpoint.drop = count
            return endpoint

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "endpoints": [e.describe() for e in self._endpoints.values()],
                "deliveries": [m.describe() for m in self.messages],
            }

    def _heard(
        self, kind: str, target: acton_data.ContactList, contact: acton_data.Contact
    ) -> None:
        event = "contact.added" if kind == "added" else "contact.updated"
        payload = {
            "type": event,
            "timestamp": contact.modified_ms,
            "data": {"listId": target.id, "contact": record(target, contact)},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        with self._lock:
            endpoints = [e for e in self._endpoints.values() if event in e.events]
        for endpoint in endpoints:
            message = Message(
                endpoint.id,
                "msg_" + uuid.uuid4().hex,
                event,
                target.contact_id(contact.number),
                body,
            )
            with self._lock:
                self.messages.append(message)
                if endpoint.drop != 0:
                    if endpoint.drop > 0:
                        endpoint.drop -= 1
                    message.dropped = message.done = True
                    continue
            loop = self._loop
            if loop is None:
                message.attempts.append("the sandbox is not serving")
                message.done = True
                continue
            loop.call_soon_threadsafe(self._start, endpoint, message)

    def _start(self, endpoint: Endpoint, message: Message) -> None:
        task = asyncio.create_task(self._deliver(endpoint, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, endpoint: Endpoint, message: Message) -> None:
        for delay in (0.0, *self.retry_delays):
            if delay:
                await asyncio.sleep(delay)
            if await self._attempt(endpoint, message):
                break
        message.done = True

    async def _attempt(self, endpoint: Endpoint, message: Message) -> bool:
        assert self._session is not None
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "svix-id": message.id,
            "svix-timestamp": str(stamp),
            "svix-signature": signing.standard_signature(
                endpoint.secret, message.id, stamp, message.body
            ),
        }
        try:
            async with self._session.post(endpoint.url, data=message.body, headers=headers) as r:
                status: int | str = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = f"{type(exc).__name__}: {exc}"
        message.attempts.append(status)
        return isinstance(status, int) and 200 <= status < 300
