"""`/hubs/marketing`: an instance's contact lists and contacts, through its element's hub.

Authenticated with `User …, Organization …, Element <token>`; the Element token picks the instance.
Listings follow the paging conventions (`pageSize`, `nextPage`, `Elements-Next-Page-Token`).
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from headwater import errors
from headwater.api import auth, deps, paging
from headwater.bootstrap import Container
from headwater.elements import base

router = APIRouter(tags=["marketing hub"])

Deps = Annotated[Container, Depends(deps.container)]
ListId = Annotated[str, Path(min_length=1, max_length=200, description="e.g. `l-0001`")]
ContactId = Annotated[
    str, Path(min_length=1, max_length=300, description="`_contact_id_`, e.g. `l-0001:7` (or `7`)")
]
Where = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="CEQL: `modafter|modbefore|createdafter|createdbefore='<epoch ms>'`, "
        "`<column>='<value>'` (backticks around a heading with spaces), joined with `and`.",
    ),
]
Fields = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="Comma-separated column headings to return; `_contact_id_` alone lists ids.",
    ),
]
ContactBody = Annotated[
    dict[str, Any],
    Body(description="A JSON object keyed by column heading.", examples=[{"First Name": "Ada"}]),
]

_CONTACTS = "/hubs/marketing/lists/{list_id}/contacts"
_CONTACT = _CONTACTS + "/{contact_id}"


_HUB = "marketing"


def _hub(c: Container, instance: auth.ElementInstance) -> base.Hub:
    if c.registry.get(instance.element_key).hub_key != _HUB:
        raise errors.NotFoundError(
            f"Instance {instance.id} is of element {instance.element_key!r}, "
            f"which has no {_HUB} hub."
        )
    if instance.disabled:
        raise errors.ConflictError(
            f"Instance {instance.id} is disabled; "
            f"enable it with PUT /instances/{instance.id}/enabled."
        )
    if not instance.valid:
        raise errors.ProviderRefusal(
            f"Instance {instance.id} must be re-authenticated (PUT with a new code).",
            provider_message=instance.invalid_reason,
        )
    return c.connections.hub(instance)


def _path(*segments: str) -> str:
    return "/".join(["", "hubs", _HUB, *(urllib.parse.quote(p, safe="") for p in segments)])


@router.get("/hubs/marketing/lists", response_model=list[dict[str, Any]])
async def list_lists(instance: auth.ElementInstance, c: Deps, page: paging.Page) -> JSONResponse:
    """The account's contact lists: `id`, `name`, `folderName`, `size`, `tsLastModified`."""
    found = await _hub(c, instance).fetch(
        _path("lists"), page_size=page.size, page_token=page.token
    )
    return paging.respond(found.records, found.next_token)


@router.get(_CONTACTS, response_model=list[dict[str, Any]])
async def list_contacts(
    list_id: ListId,
    instance: auth.ElementInstance,
    c: Deps,
    page: paging.Page,
    where: Where = None,
    fields: Fields = None,
) -> JSONResponse:
    """A list's contacts, keyed by column heading, with `_contact_id_`, `__created_date` and
    `__modified_date` (epoch ms). A page may hold fewer than `pageSize` contacts when a column
    filter applies: follow `Elements-Next-Page-Token` until there is none."""
    query = urllib.parse.urlencode(
        [
            (name, value)
            for name, value in (("where", where), ("fields", fields))
            if value is not None
        ]
    )
    url = _path("lists", list_id, "contacts") + (f"?{query}" if query else "")
    found = await _hub(c, instance).fetch(url, page_size=page.size, page_token=page.token)
    return paging.respond(found.records, found.next_token)


@router.post(_CONTACTS)
async def create_contact(
    list_id: ListId, body: ContactBody, instance: auth.ElementInstance, c: Deps
) -> dict[str, Any]:
    """Add a contact to the list; answers it as the hub reads it."""
    return await _hub(c, instance).create(_path("lists", list_id, "contacts"), body)


@router.get(_CONTACT)
async def get_contact(
    list_id: ListId, contact_id: ContactId, instance: auth.ElementInstance, c: Deps
) -> dict[str, Any]:
    """One contact of the list."""
    return await _hub(c, instance).read(_path("lists", list_id, "contacts", contact_id))


@router.patch(_CONTACT)
async def update_contact(
    list_id: ListId,
    contact_id: ContactId,
    body: ContactBody,
    instance: auth.ElementInstance,
    c: Deps,
) -> dict[str, Any]:
    """Change the given columns of a contact; the others keep their values."""
    return await _hub(c, instance).update(_path("lists", list_id, "contacts", contact_id), body)


@router.put(_CONTACT)
async def replace_contact(
    list_id: ListId,
    contact_id: ContactId,
    body: ContactBody,
    instance: auth.ElementInstance,
    c: Deps,
) -> dict[str, Any]:
    """Replace a contact's columns: those not given are emptied."""
    path = _path("lists", list_id, "contacts", contact_id)
    return await _hub(c, instance).update(path, body, replace=True)


@router.delete(_CONTACT, status_code=200, response_class=Response)
async def delete_contact(
    list_id: ListId, contact_id: ContactId, instance: auth.ElementInstance, c: Deps
) -> Response:
    """Delete a contact (200 with an empty body, as Cloud Elements answers)."""
    await _hub(c, instance).delete(_path("lists", list_id, "contacts", contact_id))
    return Response(status_code=200)
