"""List webhooks: registered through the API, checked with a GET, fed form-encoded POSTs.

- ``POST /3.0/lists/{list_id}/webhooks`` ``{"url", "events"?, "sources"?}``: the sandbox first
  sends ``GET url`` (User-Agent ``MailChimp.com WebHook Validator``); anything but 200 refuses the
  webhook (400 problem+json on ``url``, with the HTTP code seen). ``events`` (``subscribe``,
  ``unsubscribe``, ``profile``, ``cleaned``, ``upemail``, ``campaign``) and ``sources`` (``user``,
  ``admin``, ``api``) default to true, so a client's own API writes echo back unless it says
  ``"sources": {"api": false}``. ``GET …/webhooks`` → ``{"webhooks","list_id","total_items"}``;
  ``GET|PATCH|DELETE …/webhooks/{webhook_id}``.
- Each member change (see ``store.Change``) whose type the webhook's ``events`` and whose source its
  ``sources`` accept is POSTed as ``application/x-www-form-urlencoded`` (User-Agent
  ``MailChimp.com``): ``type``, ``fired_at`` (``YYYY-MM-DD HH:MM:SS``, UTC), and ``data[…]``
  (``data[id]`` is the member's ``unique_email_id``, then ``data[list_id]``, ``data[email]``,
  ``data[email_type]``, ``data[web_id]``, ``data[ip_opt]``, ``data[ip_signup]``,
  ``data[merges][EMAIL]``, ``data[merges][FNAME]``, …; ``unsubscribe`` adds ``data[action]``
  (``unsub``, or ``delete`` for an archive) and ``data[reason]``; ``upemail`` carries
  ``data[new_id]``, ``data[new_email]``, ``data[old_email]``; ``cleaned`` ``data[reason]``).
- Deliveries leave one at a time, in the order the changes happened, unsigned, with a 10-second
  timeout. Any answer but 2xx (or no answer) is retried three times, after each of
  ``retry_delays`` seconds (Mailchimp retries a change three times, over about 75 minutes); a 410
  disables the webhook for good, without retry, as Mailchimp has done since April 2021. The admin
  surface can make a webhook drop its next deliveries on purpose
  (they are recorded as dropped and never sent), or remove a webhook as Mailchimp does with one
  that keeps failing; every delivery is recorded for the test oracle. ``campaign`` is accepted in
  ``events`` but never fires: the sandbox sends no campaigns.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from headwater.sandbox.mailchimp import api, members, problems, store

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")
RETRY_DELAYS = (300.0, 1200.0, 3000.0)
VALIDATOR_AGENT = "MailChimp.com WebHook Validator"
AGENT = "MailChimp.com"
TIMEOUT_S = 10


@dataclass
class Webhook:
    """One registered webhook; ``drop`` is how many deliveries to drop next (-1: all);
    ``disabled`` once its URL answered 410."""

    id: str
    list_id: str
    url: str
    events: dict[str, bool]
    sources: dict[str, bool]
    drop: int = 0
    disabled: bool = False

    def to_json(self) -> dict[str, Any]:
        href = f"/3.0/lists/{self.list_id}/webhooks/{self.id}"
        return {
            "id": self.id,
            "url": self.url,
            "events": dict(self.events),
            "sources": dict(self.sources),
            "list_id": self.list_id,
            "_links": [{"rel": "self", "href": href, "method": "GET"}],
        }

    def wants(self, change: store.Change) -> bool:
        return (
            not self.disabled
            and self.list_id == change.list_id
            and bool(self.events.get(change.type) and self.sources.get(change.source))
        )


@dataclass
class Delivery:
    """One change sent to one webhook (or dropped), with every attempt, for the admin surface."""

    webhook_id: str
    url: str
    form: list[tuple[str, str]]
    status: int | None = None
    error: str | None = None
    dropped: bool = False
    done: bool = False
    attempts: list[int | str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "webhook": self.webhook_id,
            "url": self.url,
            "form": dict(self.form),
            "status": self.status,
            "error": self.error,
            "dropped": self.dropped,
            "done": self.done,
            "attempts": list(self.attempts),
        }


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in _flatten(f"{prefix}[{k}]", v)]
    return [(prefix, "" if value is None else str(value))]


def form_for(change: store.Change) -> list[tuple[str, str]]:
    """The form fields Mailchimp POSTs for ``change``."""
    member = change.member
    fired = dt.datetime.fromtimestamp(change.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    head = [("type", change.type), ("fired_at", fired)]
    if change.type == "upemail":
        data: dict[str, Any] = {
            "list_id": change.list_id,
            "new_id": members.unique_email_id(member.email),
            "new_email": change.extra.get("new_email", member.email),
            "old_email": change.extra.get("old_email", ""),
        }
    elif change.type == "cleaned":
        data = {
            "list_id": change.list_id,
            "campaign_id": "",
            "reason": change.extra.get("reason", "hard"),
            "email": member.email,
        }
    else:
        data = {
            "id": members.unique_email_id(member.email),
            "list_id": change.list_id,
            "email": member.email,
            "email_type": member.email_type,
            "ip_opt": member.ip_opt,
            "ip_signup": member.ip_signup,
            "web_id": member.web_id,
            "merges": {"EMAIL": member.email, **member.merge_fields},
        }
        if change.type == "unsubscribe":
            data.update(
                action=change.extra.get("action", "unsub"),
                reason=change.extra.get("reason", "manual"),
                campaign_id="",
            )
    return head + _flatten("data", data)


def _flags(
    raw: object, name: str, allowed: tuple[str, ...], base: dict[str, bool]
) -> dict[str, bool]:
    if raw is None:
        return dict(base)
    if not isinstance(raw, dict):
        raise problems.invalid(name, "Schema describes object, but another type found.")
    for key, value in raw.items():
        if key not in allowed or not isinstance(value, bool):
            raise problems.invalid(
                f"{name}.{key}", f"Must be a boolean, one of: {', '.join(allowed)}."
            )
    return {**base, **raw}


def _url(raw: object) -> str:
    if not isinstance(raw, str) or urlsplit(raw).scheme not in ("http", "https"):
        raise problems.invalid("url", "Please provide a valid URL.")
    return raw


class Webhooks:
    """The webhooks of every list, and their sender; listens to ``data``'s changes."""

    def __init__(self, data: store.Store, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.data = data
        self.retry_delays = tuple(retry_delays)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._hooks: dict[str, Webhook] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Webhook, Delivery]] | None = None
        self._session: aiohttp.ClientSession | None = None
        data.listeners.append(self._heard)

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """The sender's lifetime, as an aiohttp cleanup context."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        self._session = aiohttp.ClientSession(timeout=timeout)
        sender = asyncio.create_task(self._send_all())
        yield
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await self._session.close()
        self._loop = None

    def all(self) -> list[Webhook]:
        with self._lock:
            return list(self._hooks.values())

    def get(self, list_id: str, webhook_id: str) -> Webhook:
        with self._lock:
            hook = self._hooks.get(webhook_id)
            if hook is None or hook.list_id != list_id:
                raise problems.not_found()
            return hook

    def set_drop(self, webhook_id: str, drop: int) -> Webhook:
        with self._lock:
            hook = self._hooks.get(webhook_id)
            if hook is None:
                raise KeyError(webhook_id)
            hook.drop = drop
            return hook

    async def create(self, list_id: str, body: Mapping[str, Any]) -> Webhook:
        self.data.get_list(list_id)
        url = _url(body.get("url"))
        events = _flags(body.get("events"), "events", EVENTS, dict.fromkeys(EVENTS, True))
        sources = _flags(body.get("sources"), "sources", SOURCES, dict.fromkeys(SOURCES, True))
        if any(h.list_id == list_id and h.url == url for h in self.all()):
            raise problems.invalid("url", "A webhook with this URL already exists for this list.")
        await self._check(url)
        hook = Webhook(uuid.uuid4().hex[:10], list_id, url, events, sources)
        with self._lock:
            self._hooks[hook.id] = hook
        return hook

    async def update(self, list_id: str, webhook_id: str, body: Mapping[str, Any]) -> Webhook:
        """``PATCH``: new ``events``, ``sources`` or ``url`` (a new URL is checked with a GET)."""
        hook = self.get(list_id, webhook_id)
        events = _flags(body.get("events"), "events", EVENTS, hook.events)
        sources = _flags(body.get("sources"), "sources", SOURCES, hook.sources)
        url = body.get("url", hook.url)
        if url != hook.url:
            await self._check(_url(url))
        with self._lock:
            hook.events, hook.sources, hook.url = events, sources, url
        return hook

    def delete(self, list_id: str, webhook_id: str) -> None:
        self.remove(self.get(list_id, webhook_id).id)

    def remove(self, webhook_id: str) -> bool:
        """Forgets a webhook; False when there was none."""
        with self._lock:
            return self._hooks.pop(webhook_id, None) is not None

    async def _check(self, url: str) -> None:
        assert self._session is not None
        try:
            async with self._session.get(url, headers={"User-Agent": VALIDATOR_AGENT}) as answer:
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        if status != 200:
            raise problems.invalid(
                "url",
                "We couldn't verify the URL is working. Please double check and try again. "
                f"HTTP Code: {status}",
            )

    def _heard(self, change: store.Change) -> None:
        loop, queue = self._loop, self._queue
        for hook in self.all():
            if not hook.wants(change):
                continue
            delivery = Delivery(hook.id, hook.url, form_for(change))
            with self._lock:
                self.deliveries.append(delivery)
            if loop is None or queue is None:
                delivery.error, delivery.done = "the sandbox is not serving", True
                continue
            loop.call_soon_threadsafe(queue.put_nowait, (hook, delivery))

    async def _send_all(self) -> None:
        assert self._queue is not None
        while True:
            hook, delivery = await self._queue.get()
            with self._lock:
                dropping = hook.drop != 0 and not delivery.attempts
                if dropping and hook.drop > 0:
                    hook.drop -= 1
            if dropping:
                delivery.dropped = delivery.done = True
                continue
            if hook.disabled:
                delivery.error, delivery.done = "the webhook is disabled", True
                continue
            await self._attempt(hook, delivery)

    async def _attempt(self, hook: Webhook, delivery: Delivery) -> None:
        assert self._session is not None and self._loop is not None and self._queue is not None
        delivery.status = delivery.error = None
        try:
            async with self._session.post(
                hook.url, data=delivery.form, headers={"User-Agent": AGENT}
            ) as answer:
                delivery.status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append(delivery.status or "error")
        if delivery.status is not None and 200 <= delivery.status < 300:
            delivery.done = True
        elif delivery.status == 410:
            hook.disabled = delivery.done = True
        elif len(delivery.attempts) > len(self.retry_delays):
            delivery.done = True
        else:
            delay = self.retry_delays[len(delivery.attempts) - 1]
            self._loop.call_later(delay, self._queue.put_nowait, (hook, delivery))


def routes(hooks: Webhooks) -> list[web.RouteDef]:
    """The ``/3.0/lists/{list_id}/webhooks`` routes."""

    async def list_hooks(request: web.Request) -> web.Response:
        list_id = request.match_info["list_id"]
        hooks.data.get_list(list_id)
        found = [h.to_json() for h in hooks.all() if h.list_id == list_id]
        return api.shaped(
            request, {"webhooks": found, "list_id": list_id, "total_items": len(found)}
        )

    async def create(request: web.Request) -> web.Response:
        hook = await hooks.create(request.match_info["list_id"], await api.json_body(request))
        return web.json_response(hook.to_json())

    async def get(request: web.Request) -> web.Response:
        info = request.match_info
        return api.shaped(request, hooks.get(info["list_id"], info["webhook_id"]).to_json())

    async def patch(request: web.Request) -> web.Response:
        info = request.match_info
        body = await api.json_body(request)
        hook = await hooks.update(info["list_id"], info["webhook_id"], body)
        return web.json_response(hook.to_json())

    async def delete(request: web.Request) -> web.Response:
        hooks.delete(request.match_info["list_id"], request.match_info["webhook_id"])
        return web.Response(status=204)

    one = "/3.0/lists/{list_id}/webhooks/{webhook_id}"
    return [
        web.get("/3.0/lists/{list_id}/webhooks", list_hooks),
        web.post("/3.0/lists/{list_id}/webhooks", create),
        web.get(one, get),
        web.patch(one, patch),
        web.delete(one, delete),
    ]
