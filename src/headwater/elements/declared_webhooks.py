"""Registering webhooks with a provider whose API can (``events.webhooks.registration``).

One webhook per item of the ``perItemOf`` hub collection (Mailchimp: one per audience), each
pointing at the instance's callback URL. Registration is idempotent: an item whose webhooks
(``list``) already include the URL gets no second one. Removal deletes, on every item, the
webhooks whose URL is the instance's (and no other), so nothing else registered there is
touched and nothing has to be remembered between the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from headwater import errors
from headwater.domain import paths
from headwater.elements import base, declaration, declared_http
from headwater.elements import declared_paths as hub_paths

_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
PAGE_SIZE = 200


class Registrations:
    """The webhooks of one instance at its provider."""

    def __init__(
        self,
        declared: declaration.Declaration,
        registration: declaration.WebhookRegistration,
        connection: base.Connection,
        hub: base.Hub,
    ) -> None:
        self.declared = declared
        self.registration = registration
        self.caller = declared_http.Caller(declared, connection)
        self.hub = hub

    async def ensure(self, callback_url: str) -> int:
        """Register ``callback_url`` on every item that lacks it; how many were created."""
        created = 0
        for item in await self._items():
            if await self._registered(item, callback_url):
                continue
            call = self.registration.create
            body = _filled(self.registration.body, callback_url)
            await self.caller.call(call.method, self._url(call.path, item), body=body)
            created += 1
        return created

    async def remove(self, callback_url: str) -> int:
        """Delete, on every item, the webhooks registered with ``callback_url``; how many."""
        call = self.registration.delete
        if call is None:
            return 0
        removed = 0
        for item in await self._items():
            for webhook_id in await self._registered(item, callback_url):
                try:
                    await self.caller.call(
                        call.method, self._url(call.path, item, webhook_id=webhook_id)
                    )
                except errors.ProviderNotFound:
                    continue  # gone already
                removed += 1
        return removed

    async def _items(self) -> list[str]:
        """The ids of the items webhooks are registered on (one item, none declared)."""
        collection = self.registration.per_item_of
        if collection is None:
            return [""]
        resource = next((r for r in self.declared.resources if r.path == collection), None)
        id_field = resource.id_field if resource is not None else "id"
        found: list[str] = []
        token: str | None = None
        while True:
            page = await self.hub.fetch(collection, page_size=PAGE_SIZE, page_token=token)
            for record in page.records:
                value = paths.get(record, id_field)
                found.append(str(value))
            if page.next_token is None:
                return found
            token = page.next_token

    async def _registered(self, item: str, callback_url: str) -> list[str]:
        """The ids of the item's webhooks registered with ``callback_url``."""
        call = self.registration.list
        if call is None:
            return []
        answer = await self.caller.call(call.method, self._url(call.path, item))
        listed: Any = answer.data
        if self.registration.records is not None and isinstance(listed, Mapping):
            listed = paths.get(listed, self.registration.records)
        if not isinstance(listed, list):
            return []
        return [
            str(paths.get(hook, self.registration.id_field))
            for hook in listed
            if isinstance(hook, Mapping) and _get(hook, self.registration.url_field) == callback_url
        ]

    def _url(self, template: str, item: str, *, webhook_id: str | None = None) -> str:
        names = [name for name in _PLACEHOLDER.findall(template) if name != "id"]
        values = dict.fromkeys(names, item)
        if webhook_id is not None:
            values["id"] = webhook_id
        return self.caller.base_url + hub_paths.fill(template, values)


def _get(record: Mapping[str, object], path: str) -> object:
    try:
        return paths.get(record, path)
    except KeyError:
        return None


def _filled(template: object, callback_url: str) -> Any:
    if isinstance(template, str):
        return template.replace("{callbackUrl}", callback_url)
    if isinstance(template, Mapping):
        return {key: _filled(value, callback_url) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(value, callback_url) for value in template]
    return template
