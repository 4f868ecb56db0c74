"""Which URLs one poll reads: the resource's URL, or one per item of its parent collection.

A path placeholder left in a resource URL (``/hubs/marketing/lists/{listId}/contacts``) stands
for every item of the collection before it (``/hubs/marketing/lists``, items' ``id``); a concrete
id polls that item only.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from headwater.domain import variables
from headwater.elements import base
from headwater.errors import HeadwaterError

COLLECTION_PAGE_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class Target:
    """One URL to read and, when it is ``…/<collection>/<id>/<child>``, that collection's path
    and the item's id."""

    url: str
    collection: str | None = None
    item_id: str | None = None


async def targets(hub: base.Hub, url: str) -> list[Target]:
    """The URLs of one poll of ``url`` (variables already expanded)."""
    names = variables.placeholders(url)
    if not names:
        parent = parent_of(url)
        if parent is None:
            return [Target(url)]
        return [Target(url, parent[0], parent[1])]
    if len(names) > 1:
        raise HeadwaterError(
            f"the URL {url} has several placeholders ({', '.join(names)}); only one can stand "
            "for every item of its collection"
        )
    name = names[0]
    parent_path = url.split("{" + name + "}", 1)[0].rstrip("/")
    found: list[Target] = []
    for item in await collection(hub, parent_path):
        item_id = item.get("id")
        if not isinstance(item_id, str | int) or isinstance(item_id, bool):
            raise HeadwaterError(f"an item of {parent_path} has no usable 'id': {item!r}")
        found.append(Target(variables.fill(url, name, str(item_id)), parent_path, str(item_id)))
    return found


async def collection(hub: base.Hub, path: str) -> list[dict[str, object]]:
    """Every item of a hub collection, following its pages."""
    items: list[dict[str, object]] = []
    token: str | None = None
    while True:
        page = await hub.fetch(path, page_size=COLLECTION_PAGE_SIZE, page_token=token)
        items.extend(page.records)
        token = page.next_token
        if token is None:
            return items


def parent_of(url: str) -> tuple[str, str] | None:
    """For ``…/<collection>/<id>/<child>``: the collection's path and the id; else None."""
    parts = urllib.parse.urlsplit(url).path.rstrip("/").split("/")
    if len(parts) < 6 or parts[1] != "hubs":  # "", hubs, <hub>, <collection>, <id>, <child>
        return None
    return "/".join(parts[:-2]), urllib.parse.unquote(parts[-2])
