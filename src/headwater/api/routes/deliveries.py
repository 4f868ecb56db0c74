"""Notification deliveries: the log with attempts, releasing queued ones, replays, a test send."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from headwater.api import auth, deps, ids, paging, schemas
from headwater.bootstrap import Container
from headwater.delivery import service, subscriptions
from headwater.errors import InputError

router = APIRouter(tags=["deliveries"])

Deps = Annotated[Container, Depends(deps.container)]
Where = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="CEQL over id, notificationId, instanceId, kind, url (or config.url), channel, "
        "status, attemptCount, nextAttemptDate, createdDate, updatedDate (operators as on the "
        "events API: `in (…)`, `like`, `is null`, `or`, `not`, parentheses); "
        "e.g. `status='queued'`.",
    ),
]
Hydrate = Annotated[bool, Query(description="Include each notification's `message` as it is sent.")]


def _where(value: str | None) -> str | None:
    """A ``where`` as given; neither database stores a NUL, so none may be compared with."""
    if value is not None and "\x00" in value:
        raise InputError(problems=[("where", "must not contain NUL characters")])
    return value


def delivery_json(view: service.View, *, hydrate: bool = False) -> dict[str, Any]:
    """A delivery and its attempts as the API shows them (``hydrate``: with its message)."""
    row = view.delivery
    body: dict[str, Any] = {
        "id": row.id,
        "notificationId": row.notification_id,
        "instanceId": row.instance_id,
        "kind": row.kind,
        "url": row.url,
        "status": row.status,
        "attempts": [
            {
                "date": schemas.wire_time(attempt.date),
                "statusCode": attempt.status_code,
                "latencyMs": attempt.latency_ms,
                "error": attempt.error,
                "response": attempt.response,
            }
            for attempt in view.attempts
        ],
        "nextAttemptDate": schemas.wire_time(row.next_attempt_at) if row.next_attempt_at else None,
        "lastError": row.last_error,
        "createdDate": schemas.wire_time(row.created_at),
        "updatedDate": schemas.wire_time(row.updated_at),
    }
    if hydrate:
        sent = json.loads(row.body)
        # an operations notification is its own object, not a `message`
        body["message"] = sent if row.kind == "operations" else sent.get("message")
    return body


class SubscriptionConfig(BaseModel):
    url: str


class SubscriptionQueue(BaseModel):
    pending: int = Field(description="Notifications waiting for their first attempt.")
    retrying: int = Field(description="Notifications waiting to be tried again.")
    queued: int = Field(description="Notifications held until released (subscription inactive).")


class SubscriptionOut(BaseModel):
    """An instance's notification subscription (its id is the instance's)."""

    id: int
    instanceId: int
    elementKey: str
    channel: str
    topics: list[str]
    config: SubscriptionConfig
    active: bool = Field(description="False once retries ran out: notifications are queued.")
    eventsEnabled: bool
    notifications: SubscriptionQueue


def subscription_json(found: subscriptions.Subscription) -> dict[str, Any]:
    return {
        "id": found.instance_id,
        "instanceId": found.instance_id,
        "elementKey": found.element_key,
        "channel": subscriptions.CHANNEL,
        "topics": [found.topic],
        "config": {"url": found.url},
        "active": found.active,
        "eventsEnabled": found.events_enabled,
        "notifications": {
            "pending": found.queue.pending,
            "retrying": found.queue.retrying,
            "queued": found.queue.queued,
        },
    }


@router.get("/notifications/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(who: auth.Principal, c: Deps, page: paging.Page) -> JSONResponse:
    """Each instance's subscription: its callback URL, whether it is active, and how many of its
    notifications are pending, retrying and queued."""
    found = await c.deliveries.subscription_page(
        organization_id=who.organization_id, after_id=page.after_id(), limit=page.size + 1
    )
    items, more = paging.split(found, page)
    token = paging.id_token(items[-1].instance_id) if more else None
    return paging.respond([subscription_json(s) for s in items], token)


@router.get("/notifications/subscriptions/{subscription_id:int}", response_model=SubscriptionOut)
async def get_subscription(
    subscription_id: ids.SubscriptionId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """One subscription, by its id (that of its instance)."""
    found = await c.deliveries.subscription(
        organization_id=who.organization_id, instance_id=subscription_id
    )
    return subscription_json(found)


@router.get("/notifications/subscriptions/deliveries")
async def list_deliveries(
    who: auth.Principal,
    c: Deps,
    page: paging.Page,
    where: Where = None,
    hydrate: Hydrate = False,
) -> JSONResponse:
    """The organization's deliveries, newest first, each with its attempts."""
    views = await c.deliveries.page(
        organization_id=who.organization_id,
        where=_where(where),
        before_id=page.after_id(),
        limit=page.size + 1,
    )
    items, more = paging.split(views, page)
    token = paging.id_token(items[-1].delivery.id) if more else None
    return paging.respond([delivery_json(v, hydrate=hydrate) for v in items], token)


@router.put("/notifications/subscriptions/deliveries")
async def release_deliveries(who: auth.Principal, c: Deps, where: Where = None) -> JSONResponse:
    """Release queued deliveries (those matching `where`, e.g. `status='queued'`): they are sent
    again in order, and their instances' subscriptions are reactivated. Answers the released."""
    released = await c.deliveries.release(organization_id=who.organization_id, where=_where(where))
    return JSONResponse([delivery_json(v) for v in released])


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: dt.datetime = Field(alias="from", description="ISO-8601; events dated at or after it.")
    end: dt.datetime = Field(alias="to", description="ISO-8601; events dated before it.")
    where: str | None = Field(
        default=None, max_length=2000, description="CEQL over the fields of the events API."
    )


def _utc(value: dt.datetime, field: str) -> dt.datetime:
    """A time without an offset is read as UTC."""
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        raise InputError(problems=[(field, "is out of range")]) from None


@router.post("/instances/{instance_id:int}/events/replay")
async def replay_events(
    instance_id: ids.InstanceId,
    who: auth.Principal,
    c: Deps,
    body: Annotated[ReplayRequest, Body()],
) -> dict[str, Any]:
    """Send the instance's stored events dated in [`from`, `to`) again, as new notifications."""
    start, end = _utc(body.start, "from"), _utc(body.end, "to")
    if end <= start:
        raise InputError(problems=[("to", "must be later than from")])
    replayed = await c.deliveries.replay(
        organization_id=who.organization_id,
        instance_id=instance_id,
        start=start,
        end=end,
        where=_where(body.where),
    )
    return {
        "eventCount": replayed.event_count,
        "deliveries": [delivery_json(v) for v in replayed.deliveries],
    }


@router.post("/instances/{instance_id:int}/notifications/test")
async def test_notification(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Send a signed test notification to the instance's callback URL now; answers the delivery
    with its attempt (`status` is `delivered` or `failed`)."""
    view = await c.deliveries.send_test(
        organization_id=who.organization_id, instance_id=instance_id
    )
    return delivery_json(view, hydrate=True)
