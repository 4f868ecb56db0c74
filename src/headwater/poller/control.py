"""What users do with pollers: read their state, run one now, pause or resume one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.domain import dates, instance_config
from headwater.errors import ConflictError, NotFoundError
from headwater.instances import pollers as instance_pollers
from headwater.storage import db, pollers


@dataclasses.dataclass(frozen=True)
class PollerState:
    """One poller as its user sees it."""

    resource: str
    enabled: bool
    cursor: dt.datetime | None
    last_run_at: dt.datetime | None
    next_run_at: dt.datetime | None
    last_error: str | None
    consecutive_failures: int
    last_event_count: int | None
    disabled_reason: str | None
    next_reconcile_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class DisabledPoller:
    """A disabled poller, with its instance."""

    instance_id: int
    instance_name: str
    element_key: str
    poller: PollerState


def _state(row: Any) -> PollerState:
    return PollerState(
        resource=row.resource,
        enabled=bool(row.enabled),
        cursor=None if row.cursor_ms is None else dates.from_ms(row.cursor_ms),
        last_run_at=row.last_run_at,
        next_run_at=row.next_run_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        last_event_count=row.last_event_count,
        disabled_reason=row.disabled_reason,
        next_reconcile_at=row.next_reconcile_at,
    )


def is_active(configuration: Mapping[str, Any], *, valid: bool, disabled: bool) -> bool:
    """Whether an instance in this state polls at all."""
    config = instance_config.InstanceConfig.read(configuration)
    return instance_pollers.active(config, valid=valid, disabled=disabled)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PollerControl:
    """Pollers as their users see and steer them."""

    def __init__(self, *, engine: AsyncEngine, clock: Callable[[], dt.datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock

    async def states(self, instance_id: int) -> list[PollerState]:
        """Every poller of the instance."""
        async with db.reading(self.engine) as conn:
            return [_state(row) for row in await pollers.for_instance(conn, instance_id)]

    async def disabled(self, organization_id: int) -> list[DisabledPoller]:
        """The organization's disabled pollers, each with its instance: ``disabled_reason`` is
        ``paused`` for one its user paused, else why it disabled itself."""
        async with db.reading(self.engine) as conn:
            rows = await pollers.disabled(conn, organization_id=organization_id)
        return [
            DisabledPoller(
                instance_id=row.instance_id,
                instance_name=row.instance_name,
                element_key=row.element_key,
                poller=_state(row),
            )
            for row in rows
        ]

    async def run_now(
        self, instance_id: int, resource: str, *, active: bool, reconcile: bool = False
    ) -> PollerState:
        """Make a poller due now (and its reconciliation, with ``reconcile``); ConflictError
        when it cannot run: paused or disabled, or its instance is not polling."""
        now = self.clock()
        async with db.transaction(self.engine) as conn:
            row = await _row(conn, instance_id, resource)
            if not row.enabled:
                raise ConflictError(
                    f"Poller {resource!r} is disabled ({row.disabled_reason or 'paused'}); resume"
                    f" it with PUT /instances/{instance_id}/pollers/{resource}/enabled."
                )
            if not active:
                raise ConflictError(
                    f"Instance {instance_id} is not polling: it needs events enabled with "
                    "event.vendor.type polling (or webhooks with a poller configuration), and to "
                    "be enabled and valid."
                )
            await pollers.request_run(conn, row.id, now=now, reconcile=reconcile)
            return _state(await _row(conn, instance_id, resource))

    async def set_enabled(
        self, instance_id: int, resource: str, *, enabled: bool, active: bool
    ) -> PollerState:
        """Resume (due at once, failures forgotten) or pause a poller."""
        now = self.clock()
        async with db.transaction(self.engine) as conn:
            row = await _row(conn, instance_id, resource)
            await pollers.set_enabled(conn, row.id, enabled=enabled, active=active, now=now)
            return _state(await _row(conn, instance_id, resource))


async def _row(conn: AsyncConnection, instance_id: int, resource: str) -> Any:
    row = await pollers.get(conn, instance_id, resource)
    if row is None:
        raise NotFoundError(f"Instance {instance_id} has no poller for resource {resource!r}.")
    return row
