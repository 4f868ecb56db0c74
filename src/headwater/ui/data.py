"""Everything the UI reads and does beyond the instances service and the element registry:
pollers, subscriptions, events and deliveries, through the services the API's routes call.

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
from headwater.delivery import event_log, subscriptions
from headwater.delivery import service as delivery_service
from headwater.elements import element
from headwater.errors import NotFoundError
from headwater.instances import configuration as conf
from headwater.instances import views
from headwater.poller import control
from headwater.storage import tenants

Event = event_log.Event
Delivery = delivery_service.View
Poller = control.PollerState

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


async def pollers(c: Container, instance: views.Instance) -> list[Poller]:
    """The instance's pollers."""
    return await c.pollers.states(instance.id)


def polling_active(instance: views.Instance) -> bool:
    return control.is_active(
        instance.configuration, valid=instance.valid, disabled=instance.disabled
    )


async def poller_action(
    c: Container, instance: views.Instance, resource: str, action: str
) -> Poller:
    """``run`` (poll now), ``reconcile`` (check for deletes), ``resume`` or ``pause`` one."""
    active = polling_active(instance)
    if action in ("resume", "pause"):
        return await c.pollers.set_enabled(
            instance.id, resource, enabled=action == "resume", active=active
        )
    return await c.pollers.run_now(
        instance.id, resource, active=active, reconcile=action == "reconcile"
    )


async def subscription(
    c: Container, who: tenants.Principal, instance_id: int
) -> subscriptions.Subscription | None:
    """The instance's notification subscription; None when it has no callback URL."""
    try:
        return await c.deliveries.subscription(
            organization_id=who.organization_id, instance_id=instance_id
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
    return await c.events.page(
        organization_id=who.organization_id,
        instance_id=instance_id,
        where=where,
        before_id=before_id,
        limit=limit,
    )


async def event(c: Container, who: tenants.Principal, instance_id: int, event_id: int) -> Event:
    """One event of the instance; NotFoundError when it has none of that id."""
    return await c.events.get(
        organization_id=who.organization_id, event_id=event_id, instance_id=instance_id
    )


async def deliveries(
    c: Container, who: tenants.Principal, instance_id: int, *, where: str = "", limit: int = 20
) -> list[Delivery]:
    """The instance's deliveries (matching ``where`` too), newest first, with their attempts."""
    condition = f"instanceId={instance_id}" + (f" and ({where})" if where else "")
    return await c.deliveries.page(
        organization_id=who.organization_id, where=condition, before_id=None, limit=limit
    )


def message(delivery: Delivery) -> Any:
    """The notification a delivery sends, as sent."""
    return json.loads(delivery.delivery.body).get("message")


async def release(c: Container, who: tenants.Principal, instance_id: int) -> int:
    """Release the instance's queued deliveries; how many were released."""
    released = await c.deliveries.release(
        organization_id=who.organization_id, where=f"instanceId={instance_id}"
    )
    return len(released)


async def replay(
    c: Container, who: tenants.Principal, instance_id: int, start: dt.datetime, end: dt.datetime
) -> delivery_service.Replayed:
    """Send the instance's events dated in [start, end) again, as new notifications."""
    return await c.deliveries.replay(
        organization_id=who.organization_id,
        instance_id=instance_id,
        start=start,
        end=end,
        where=None,
    )


async def send_test(c: Container, who: tenants.Principal, instance_id: int) -> Delivery:
    """Send a signed test notification now; the delivery with its attempt."""
    return await c.deliveries.send_test(
        organization_id=who.organization_id, instance_id=instance_id
    )


@dataclasses.dataclass(frozen=True)
class Activity:
    """When events were found and deliveries failed, over a window."""

    event_dates: list[dt.datetime]
    failure_dates: list[dt.datetime]


async def activity(c: Container, who: tenants.Principal, since: dt.datetime) -> Activity:
    """The organization's events found since ``since``, and its failed delivery attempts."""
    stamp = quote(since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"))
    found = await c.events.page(
        organization_id=who.organization_id,
        instance_id=None,
        where=f"pollDate>={stamp}",
        before_id=None,
        limit=ACTIVITY_LIMIT,
    )
    sent = await c.deliveries.page(
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
    return Activity([event.poll_date for event in found], failures)
