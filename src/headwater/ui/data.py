"""Everything the UI reads and does beyond the instances service and the element registry:
pollers, subscriptions, events and deliveries, through the functions the API's routes call.

Each function takes the caller's principal (or an instance already read with it), so that one
organization never reaches another's data from here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from headwater.bootstrap import Container
from headwater.delivery import service as delivery_service
from headwater.delivery import subscriptions
from headwater.domain import ceql
from headwater.elements import element
from headwater.errors import NotFoundError
from headwater.instances import configuration as conf
from headwater.instances import views
from headwater.poller import control
from headwater.storage import db, events, tenants

Event = Any  # an event row (``storage.events``)
Delivery = delivery_service.View

ACTIVITY_LIMIT = 5000
"""At most this many events and deliveries are counted for the home page's chart."""


def validate(c: Container, of: element.Element, configuration: Mapping[str, Any]) -> None:
    """The checks ``POST /instances`` makes before the code exchange; InputError naming every
    problem (fields as the API names them, e.g. ``configuration.oauth.api.key``)."""
    raw, problems = conf.merge({}, configuration)
    conf.normalize(of, raw, problems, settings=c.settings, code="pending")


def quote(value: str) -> str:
    """A CEQL string literal."""
    return "'" + value.replace("'", "''") + "'"


async def pollers(c: Container, instance: views.Instance) -> list[dict[str, Any]]:
    """The instance's pollers as the API shows them."""
    return await control.states(c.engine, instance.id)


def polling_active(instance: views.Instance) -> bool:
    return control.is_active(
        instance.configuration, valid=instance.valid, disabled=instance.disabled
    )


async def poller_action(
    c: Container, instance: views.Instance, resource: str, action: str
) -> dict[str, Any]:
    """``run`` (poll now), ``reconcile`` (check for deletes) or ``resume`` one poller."""
    active = polling_active(instance)
    if action == "resume":
        return await control.set_enabled(
            c.engine, instance.id, resource, enabled=True, active=active
        )
    if action == "pause":
        return await control.set_enabled(
            c.engine, instance.id, resource, enabled=False, active=active
        )
    return await control.run_now(
        c.engine, instance.id, resource, active=active, reconcile=action == "reconcile"
    )


async def subscription(
    c: Container, who: tenants.Principal, instance_id: int
) -> subscriptions.Subscription | None:
    """The instance's notification subscription; None when it has no callback URL."""
    try:
        return await subscriptions.get(
            c.engine, organization_id=who.organization_id, instance_id=instance_id
        )
    except NotFoundError:
        return None


async def events_page(
    c: Container,
    who: tenants.Principal,
    instance_id: int,
    where: str | None,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Event]:
    """The instance's events matching the CEQL ``where``, newest first; InputError when the
    filter is not valid."""
    conditions = ceql.parse(where) if where else []
    events.translate(conditions)
    async with db.reading(c.engine) as conn:
        return await events.page(
            conn,
            organization_id=who.organization_id,
            instance_id=instance_id,
            where=conditions,
            before_id=before_id,
            limit=limit,
        )


async def event(c: Container, who: tenants.Principal, instance_id: int, event_id: int) -> Event:
    """One event of the instance; NotFoundError when it has none of that id."""
    async with db.reading(c.engine) as conn:
        row = await events.get(
            conn, organization_id=who.organization_id, event_id=event_id, instance_id=instance_id
        )
    if row is None:
        raise NotFoundError(f"No event with id {event_id} on instance {instance_id}.")
    return row


def _deliveries(c: Container) -> delivery_service.DeliveryService:
    return delivery_service.DeliveryService(c)


async def deliveries(
    c: Container, who: tenants.Principal, instance_id: int, *, where: str = "", limit: int = 20
) -> list[Delivery]:
    """The instance's deliveries (matching ``where`` too), newest first, with their attempts."""
    condition = f"instanceId={instance_id}" + (f" and ({where})" if where else "")
    return await _deliveries(c).page(
        organization_id=who.organization_id, where=condition, before_id=None, limit=limit
    )


def message(delivery: Delivery) -> Any:
    """The notification a delivery sends, as sent."""
    return json.loads(delivery.row.body).get("message")


async def release(c: Container, who: tenants.Principal, instance_id: int) -> int:
    """Release the instance's queued deliveries; how many were released."""
    released = await _deliveries(c).release(
        organization_id=who.organization_id, where=f"instanceId={instance_id}"
    )
    return len(released)


async def replay(
    c: Container, who: tenants.Principal, instance_id: int, start: dt.datetime, end: dt.datetime
) -> delivery_service.Replayed:
    """Send the instance's events dated in [start, end) again, as new notifications."""
    return await _deliveries(c).replay(
        organization_id=who.organization_id,
        instance_id=instance_id,
        start=start,
        end=end,
        where=None,
    )


async def send_test(c: Container, who: tenants.Principal, instance_id: int) -> Delivery:
    """Send a signed test notification now; the delivery with its attempt."""
    sending = _deliveries(c)
    delivery_id = await sending.send_test(
        organization_id=who.organization_id, instance_id=instance_id
    )
    (view,) = await sending.views([delivery_id])
    return view


@dataclasses.dataclass(frozen=True)
class Activity:
    """When events were found and deliveries failed, over a window."""

    event_dates: list[dt.datetime]
    failure_dates: list[dt.datetime]


async def activity(c: Container, who: tenants.Principal, since: dt.datetime) -> Activity:
    """The organization's events found since ``since``, and its failed delivery attempts."""
    stamp = quote(since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"))
    conditions = ceql.parse(f"pollDate>={stamp}")
    async with db.reading(c.engine) as conn:
        rows = await events.page(
            conn,
            organization_id=who.organization_id,
            instance_id=None,
            where=conditions,
            before_id=None,
            limit=ACTIVITY_LIMIT,
        )
    sent = await _deliveries(c).page(
        organization_id=who.organization_id,
        where=f"updatedDate>={stamp}",
        before_id=None,
        limit=ACTIVITY_LIMIT,
    )
    failures = [
        attempt.date
        for view in sent
        for attempt in view.attempts
        if attempt.date >= since and not (attempt.status_code and 200 <= attempt.status_code < 300)
    ]
    return Activity([row.poll_date for row in rows], failures)
