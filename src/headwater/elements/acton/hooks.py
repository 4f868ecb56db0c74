"""What Act-On's declaration cannot say: its hub, over the header-and-rows list downloads.

Act-On answers a list download as a header array and row arrays, a record as a bare array
aligned with the headers, and moves a page's rows when rows before them are deleted; the
marketing hub (:mod:`headwater.elements.acton.hub`) turns that into JSON records and detects the
shift. This module adapts it to :class:`headwater.elements.base.Hub`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from headwater import errors
from headwater.elements import base
from headwater.elements.acton import client
from headwater.elements.acton import hub as marketing

_PREFIXES = (("elements", "api-v2", "hubs", "marketing"), ("hubs", "marketing"))


class ActonHub:
    """The marketing hub of one Act-On instance."""

    def __init__(self, acton: client.ActonClient) -> None:
        self.client = acton

    async def fetch(
        self, url: str, *, page_size: int, page_token: str | None, read_past_shift: bool = False
    ) -> base.HubPage:
        return await marketing.fetch(
            self.client,
            url,
            page_size=page_size,
            page_token=page_token,
            read_past_shift=read_past_shift,
        )

    async def read(self, path: str) -> dict[str, object]:
        list_id, contact = _contact(path)
        return await marketing.get_contact(self.client, list_id, contact)

    async def create(self, path: str, body: object) -> dict[str, object]:
        parts = _parts(path)
        if len(parts) != 3 or parts[0] != "lists" or parts[2] != "contacts":
            raise errors.NotFoundError(f"The marketing hub cannot create records at {path}")
        return await marketing.create_contact(self.client, parts[1], body)

    async def update(self, path: str, body: object, *, replace: bool = False) -> dict[str, object]:
        list_id, contact = _contact(path)
        return await marketing.update_contact(self.client, list_id, contact, body, replace=replace)

    async def delete(self, path: str) -> None:
        list_id, contact = _contact(path)
        await marketing.delete_contact(self.client, list_id, contact)

    def child_count(self, collection_path: str, item: Mapping[str, object]) -> int | None:
        if _parts(collection_path) != ["lists"]:
            return None
        size = item.get("size")
        return size if isinstance(size, int) and not isinstance(size, bool) else None


def hub(element: object, connection: base.Connection) -> ActonHub:
    """The hub of one instance: an :class:`ActonClient` on the connection."""
    del element  # one Act-On: everything it needs is on the connection
    return ActonHub(
        client.ActonClient(
            connection.http,
            connection.base_url,
            connection.tokens,
            connection.limiter,
            timeout=connection.timeout,
        )
    )


def _parts(path: str) -> list[str]:
    parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(path).path.split("/") if p]
    for prefix in _PREFIXES:
        if tuple(parts[: len(prefix)]) == prefix:
            return parts[len(prefix) :]
    raise errors.NotFoundError(f"The marketing hub has no resource at {path}")


def _contact(path: str) -> tuple[str, str]:
    parts = _parts(path)
    if len(parts) != 4 or parts[0] != "lists" or parts[2] != "contacts":
        raise errors.NotFoundError(f"The marketing hub has no contact at {path}")
    return parts[1], parts[3]
