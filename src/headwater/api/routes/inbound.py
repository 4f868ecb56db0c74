"""`/events/{elementKey}[/{base64 instance id}]`: providers' webhooks in; `/events/unrouted`.

Providers post without Headwater credentials: a webhook is authenticated by its element's
verification (a Svix signature, an HMAC header, or the secret in its URL). JSON, form-encoded and
query-string bodies are read; the body is kept exactly as received. A GET on the same URL answers
200 (Mailchimp checks a webhook URL that way before it registers it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from headwater.api import auth, deps, ids, paging
from headwater.bootstrap import Container
from headwater.domain import dates, inbound
from headwater.errors import AuthenticationError, InputError, NotFoundError
from headwater.instances import webhook_recording

router = APIRouter(tags=["webhooks"])

Deps = Annotated[Container, Depends(deps.container)]
ElementKey = Annotated[str, Path(max_length=64, description="The element's key.")]
PathId = Annotated[
    str,
    Path(max_length=64, description="The instance id in base64 (`MTI` for 12), padded or not."),
]


def inbound_json(row: Any) -> dict[str, Any]:
    """A kept webhook as the API shows it."""
    return {
        "id": row.id,
        "receivedDate": dates.iso(row.received_at),
        "elementKey": row.element_key,
        "instanceId": row.instance_id,
        "messageId": row.message_id,
        "outcome": row.outcome,
        "problem": row.problem,
        "eventCount": row.event_count,
        "contentType": row.content_type,
        "headers": row.headers,
        "body": row.body.decode("utf-8", "replace"),
    }


@router.get("/events/unrouted")
async def list_unrouted(who: auth.Principal, c: Deps, page: paging.Page) -> JSONResponse:
    """Webhooks that matched no instance, newest first, kept as they arrived (as long as
    events are). They belong to no organization: listed here without their headers and body,
    which the server's operator reads with `headwater webhooks unrouted`."""
    found = await c.webhooks.unrouted(before_id=page.after_id(), limit=page.size + 1)
    items, more = paging.split(found, page)
    token = paging.id_token(items[-1].id) if more else None
    return paging.respond([unrouted_json(row) for row in items], token)


def unrouted_json(row: Any) -> dict[str, Any]:
    """An unrouted webhook as any organization may see it: what arrived, not what it said."""
    shown = inbound_json(row)
    del shown["headers"], shown["body"]
    return shown | {"bodyBytes": len(row.body)}


@router.get("/instances/{instance_id:int}/webhooks")
async def list_instance_webhooks(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> list[dict[str, Any]]:
    """The last 200 webhooks routed to the instance, newest first, with their outcome
    (`accepted`, `duplicate`, `refused` with the reason, `ignored`)."""
    await c.instances.get(who, instance_id)
    return [inbound_json(row) for row in await c.webhooks.of_instance(instance_id, limit=200)]


@router.post("/events/{element_key}")
async def receive(element_key: ElementKey, request: Request, c: Deps) -> dict[str, Any]:
    """A provider's webhook, routed by the `Element-Instances` header or the instance finder."""
    return await _receive(c, element_key, None, request)


@router.post("/events/{element_key}/{instance_path}")
async def receive_for(
    element_key: ElementKey, instance_path: PathId, request: Request, c: Deps
) -> dict[str, Any]:
    """A provider's webhook for the instance whose id is base64 in the path."""
    return await _receive(c, element_key, instance_path, request)


@router.get("/events/{element_key}")
async def check(element_key: ElementKey) -> dict[str, Any]:
    """200: the URL is live (providers such as Mailchimp check it before registering it)."""
    return {"elementKey": element_key, "date": dates.iso(dt.datetime.now(dt.UTC))}


@router.get("/events/{element_key}/{instance_path}")
async def check_for(element_key: ElementKey, instance_path: PathId) -> dict[str, Any]:
    """200: the instance's webhook URL is live (checked by providers before they register it)."""
    return {"elementKey": element_key, "date": dates.iso(dt.datetime.now(dt.UTC))}


async def _receive(
    c: Container, element_key: str, path_id: str | None, request: Request
) -> dict[str, Any]:
    received = inbound.Received(
        headers={name.lower(): value for name, value in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
        content_type=request.headers.get("content-type", ""),
    )
    outcome = await c.webhooks.receive(element_key, path_id, received)
    return _answer(outcome)


def _answer(outcome: webhook_recording.Outcome) -> dict[str, Any]:
    if outcome.status == 404:
        raise NotFoundError(outcome.message)
    if outcome.status == 401:
        raise AuthenticationError(outcome.message)
    if outcome.status == 400:
        raise InputError(outcome.message, problems=[("body", outcome.message)])
    return {
        "message": outcome.message,
        "instanceId": outcome.instance_id,
        "eventIds": list(outcome.event_ids),
        "duplicate": outcome.duplicate,
    }
