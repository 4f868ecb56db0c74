"""What users do with pollers: read their state, run one now, pause or resume one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.domain import dates, instance_config
from headwater.errors import ConflictError, NotFoundError
from headwater.instances import pollers as instance_pollers
from headwater.storage import db, pollers


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else dates.iso(value)


def poller_json(row: Any) -> dict[str, Any]:
    """A poller as the API shows it."""
    return {
        "resource": row.resource,
        "enabled": row.enabled,
        "cursor": None if row.cursor_ms is None else dates.iso(dates.from_ms(row.cursor_ms)),
        "lastRunDate": _iso(row.last_run_at),
        "nextRunDate": _iso(row.next_run_at) if row.enabled else None,
        "lastError": row.last_error,
        "consecutiveFailures": row.consecutive_failures,
        "lastEventCount": row.last_event_count,
        "disabledReason": row.disabled_reason,
        "nextReconcileDate": _iso(row.next_reconcile_at),
    }


def is_active(configuration: Mapping[str, Any], *, valid: bool, disabled: bool) -> bool:
    config = instance_config.InstanceConfig.read(configuration)
    return instance_pollers.active(config, valid=valid, disabled=disabled)


async def states(engine: AsyncEngine, instance_id: int) -> list[dict[str, Any]]:
    """Every poller of the instance."""
    async with db.reading(engine) as conn:
        return [poller_json(row) for row in await pollers.for_instance(conn, instance_id)]


async def disabled(engine: AsyncEngine, organization_id: int) -> list[dict[str, Any]]:
    """The organization's disabled pollers, each with its instance: ``disabledReason`` is
    ``paused`` for one its user paused, else why it disabled itself."""
    async with db.reading(engine) as conn:
        rows = await pollers.disabled(conn, organization_id=organization_id)
    return [
        {
            "instanceId": row.instance_id,
            "instanceName": row.instance_name,
            "elementKey": row.element_key,
            **poller_json(row),
        }
        for row in rows
    ]


async def run_now(
    engine: AsyncEngine, instance_id: int, resource: str, *, active: bool, reconcile: bool = False
) -> dict[str, Any]:
    """Make a poller due now (and its reconciliation, with ``reconcile``); 409 when it cannot
    run: paused or disabled, or its instance is not polling."""
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(engine) as conn:
        row = await _row(conn, instance_id, resource)
        if not row.enabled:
            raise ConflictError(
                f"Poller {resource!r} is disabled ({row.disabled_reason or 'paused'}); resume it "
                f"with PUT /instances/{instance_id}/pollers/{resource}/enabled."
            )
        if not active:
            raise ConflictError(
                f"Instance {instance_id} is not polling: it needs events enabled with "
                "event.vendor.type polling, and to be enabled and valid."
            )
        await pollers.request_run(conn, row.id, now=now, reconcile=reconcile)
        return poller_json(await _row(conn, instance_id, resource))


async def set_enabled(
    engine: AsyncEngine, instance_id: int, resource: str, *, enabled: bool, active: bool
) -> dict[str, Any]:
    """Resume (due at once, failures forgotten) or pause a poller."""
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(engine) as conn:
        row = await _row(conn, instance_id, resource)
        await pollers.set_enabled(conn, row.id, enabled=enabled, active=active, now=now)
        return poller_json(await _row(conn, instance_id, resource))


async def _row(conn: Any, instance_id: int, resource: str) -> Any:
    row = await pollers.get(conn, instance_id, resource)
    if row is None:
        raise NotFoundError(f"Instance {instance_id} has no poller for resource {resource!r}.")
    return row
