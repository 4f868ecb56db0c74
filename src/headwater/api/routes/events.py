"""`/instances/events`: the events the pollers stored, newest first, paged, filtered by `where`.

`where` is CEQL over `id`, `instanceId`, `elementKey`, `hubKey`, `objectType`, `objectId`,
`eventType`, `date`, `pollDate`, `status`, `notificationId` and `deliveryId` (`=`, `!=`, `<`, `<=`,
`>`, `>=`, `in (…)`, `like`, `is [not] null`, joined by `and`, `or`, `not` and parentheses; dates
as ISO-8601).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from headwater.api import auth, deps, ids, paging
from headwater.bootstrap import Container
from headwater.delivery import event_log
from headwater.domain import dates

router = APIRouter(tags=["events"])

Deps = Annotated[Container, Depends(deps.container)]
Where = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="CEQL: `=`, `!=`, `<`, `<=`, `>`, `>=`, `in (…)`, `like` (`%`, `_`, `\\` "
        "escapes), `is [not] null`, `and`, `or`, `not`, parentheses; e.g. "
        "`eventType in ('CREATED','UPDATED') and date>='2026-11-29T10:00:00Z'`.",
    ),
]


def event_json(event: event_log.Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": event.id,
        "instanceId": event.instance_id,
        "elementKey": event.element_key,
        "hubKey": event.hub_key,
        "objectType": event.object_type,
        "objectId": event.object_id,
        "eventType": event.event_type,
        "date": dates.iso(event.date),
        "pollDate": dates.iso(event.poll_date),
        "status": event.status,
        "notificationId": event.notification_id,
        "deliveryId": event.delivery_id,
        "raw": event.raw,
    }


async def _page(
    c: Container,
    who: auth.Principal,
    instance_id: int | None,
    where: str | None,
    page: paging.PageRequest,
) -> JSONResponse:
    found = await c.events.page(
        organization_id=who.organization_id,
        instance_id=instance_id,
        where=where,
        before_id=page.after_id(),
        limit=page.size + 1,
    )
    items, more = paging.split(found, page)
    token = paging.id_token(items[-1].id) if more else None
    return paging.respond([event_json(event) for event in items], token)


@router.get("/instances/events")
async def list_events(
    who: auth.Principal,
    creds: Annotated[auth.Credentials, Depends(auth.credentials)],
    c: Deps,
    page: paging.Page,
    where: Where = None,
) -> JSONResponse:
    """The organization's events, newest first (one instance's with an `Element` token)."""
    instance_id = None
    if creds.element is not None:
        instance_id = (await c.instances.by_token(who, creds.element)).id
    return await _page(c, who, instance_id, where, page)


async def _one(
    c: Container, who: auth.Principal, event_id: int, instance_id: int | None
) -> dict[str, Any]:
    found = await c.events.get(
        organization_id=who.organization_id, event_id=event_id, instance_id=instance_id
    )
    return event_json(found)


@router.get("/instances/events/{event_id:int}")
async def get_event(
    event_id: ids.EventId,
    who: auth.Principal,
    creds: Annotated[auth.Credentials, Depends(auth.credentials)],
    c: Deps,
) -> dict[str, Any]:
    """One event, with the `notificationId` and `deliveryId` that carried it (null until sent);
    with an `Element` token, only an event of that token's instance."""
    instance_id = None
    if creds.element is not None:
        instance_id = (await c.instances.by_token(who, creds.element)).id
    return await _one(c, who, event_id, instance_id)


@router.get("/instances/{instance_id:int}/events/{event_id:int}")
async def get_instance_event(
    instance_id: ids.InstanceId, event_id: ids.EventId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """One event of the instance; an event of another instance is not found here."""
    await c.instances.get(who, instance_id)
    return await _one(c, who, event_id, instance_id)


@router.get("/instances/{instance_id:int}/events")
async def list_instance_events(
    instance_id: ids.InstanceId,
    who: auth.Principal,
    c: Deps,
    page: paging.Page,
    where: Where = None,
) -> JSONResponse:
    """The instance's events, newest first."""
    await c.instances.get(who, instance_id)
    return await _page(c, who, instance_id, where, page)
