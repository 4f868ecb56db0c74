"""`/instances/{id}/pollers`: each polled resource's state; run one now, pause or resume one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from headwater.api import auth, deps, ids
from headwater.bootstrap import Container
from headwater.domain import dates
from headwater.poller import control

router = APIRouter(tags=["pollers"])

Deps = Annotated[Container, Depends(deps.container)]
Resource = Annotated[
    str, Path(min_length=1, max_length=200, description="A resource of the poller configuration.")
]
_ONE = "/instances/{instance_id:int}/pollers/{resource}"


async def _active(c: Container, who: auth.Principal, instance_id: int) -> bool:
    instance = await c.instances.get(who, instance_id)
    return control.is_active(
        instance.configuration, valid=instance.valid, disabled=instance.disabled
    )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else dates.iso(value)


def poller_json(state: control.PollerState) -> dict[str, Any]:
    """A poller as the API shows it."""
    return {
        "resource": state.resource,
        "enabled": state.enabled,
        "cursor": _iso(state.cursor),
        "lastRunDate": _iso(state.last_run_at),
        "nextRunDate": _iso(state.next_run_at) if state.enabled else None,
        "lastError": state.last_error,
        "consecutiveFailures": state.consecutive_failures,
        "lastEventCount": state.last_event_count,
        "disabledReason": state.disabled_reason,
        "nextReconcileDate": _iso(state.next_reconcile_at),
    }


def disabled_json(found: control.DisabledPoller) -> dict[str, Any]:
    """A disabled poller, with its instance, as the API shows it."""
    return {
        "instanceId": found.instance_id,
        "instanceName": found.instance_name,
        "elementKey": found.element_key,
        **poller_json(found.poller),
    }


class DisabledPoller(BaseModel):
    """A disabled poller, with its instance."""

    instanceId: int
    instanceName: str
    elementKey: str
    resource: str
    enabled: bool
    cursor: str | None
    lastRunDate: str | None
    nextRunDate: str | None
    lastError: str | None
    consecutiveFailures: int
    lastEventCount: int | None
    disabledReason: str | None
    nextReconcileDate: str | None


@router.get("/instances/polling-disabled", response_model=list[DisabledPoller])
async def list_disabled_pollers(who: auth.Principal, c: Deps) -> list[dict[str, Any]]:
    """The organization's disabled pollers: those that disabled themselves after failing
    (`disabledReason` says why) and those paused by their user (`disabledReason` `paused`).
    Resume one with `PUT /instances/{id}/pollers/{resource}/enabled`."""
    return [disabled_json(found) for found in await c.pollers.disabled(who.organization_id)]


@router.get("/instances/{instance_id:int}/pollers")
async def list_pollers(
    instance_id: ids.InstanceId, who: auth.Principal, c: Deps
) -> list[dict[str, Any]]:
    """Each resource's poller: `cursor`, `lastRunDate`, `nextRunDate`, `lastError`,
    `consecutiveFailures`, `lastEventCount`, `enabled` (and `disabledReason`)."""
    await c.instances.get(who, instance_id)
    return [poller_json(state) for state in await c.pollers.states(instance_id)]


@router.post(_ONE + "/run", status_code=202)
async def run_poller(
    instance_id: ids.InstanceId, resource: Resource, who: auth.Principal, c: Deps
) -> JSONResponse:
    """Poll this resource now (right after the current poll, when one is running)."""
    active = await _active(c, who, instance_id)
    state = await c.pollers.run_now(instance_id, resource, active=active)
    return JSONResponse(poller_json(state), status_code=202)


@router.post(_ONE + "/reconcile", status_code=202)
async def reconcile_poller(
    instance_id: ids.InstanceId, resource: Resource, who: auth.Principal, c: Deps
) -> JSONResponse:
    """Poll this resource now and then look for deleted records (an ids-only listing)."""
    active = await _active(c, who, instance_id)
    state = await c.pollers.run_now(instance_id, resource, active=active, reconcile=True)
    return JSONResponse(poller_json(state), status_code=202)


@router.put(_ONE + "/enabled")
async def resume_poller(
    instance_id: ids.InstanceId, resource: Resource, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Resume a paused poller, or one that disabled itself after failing; it runs at once."""
    active = await _active(c, who, instance_id)
    state = await c.pollers.set_enabled(instance_id, resource, enabled=True, active=active)
    return poller_json(state)


@router.delete(_ONE + "/enabled")
async def pause_poller(
    instance_id: ids.InstanceId, resource: Resource, who: auth.Principal, c: Deps
) -> dict[str, Any]:
    """Pause a poller until it is resumed."""
    active = await _active(c, who, instance_id)
    state = await c.pollers.set_enabled(instance_id, resource, enabled=False, active=active)
    return poller_json(state)
