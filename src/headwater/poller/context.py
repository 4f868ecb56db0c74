"""What a poll needs besides its poller row: the instance, the resource and the provider client."""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from collections.abc import MutableMapping
from typing import Any, Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater import errors
from headwater.domain import config, instance_config
from headwater.elements import base
from headwater.instances import connections
from headwater.settings import Settings
from headwater.storage import instances, pollers

DEFAULT_REFRESH_MINUTES = 15.0


class LeaseLost(errors.HeadwaterError):
    """Another worker took the poller over; this poll's outcome is dropped."""


class Deps(Protocol):
    """The parts of the process's container a poller uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def http(self) -> aiohttp.ClientSession: ...

    @property
    def connections(self) -> connections.Connections: ...

    @property
    def node_id(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class Context:
    """One claimed poller with its instance's settings."""

    claimed: pollers.Claimed
    instance: instances.Instance
    resource: config.Resource
    interval_seconds: float
    reconcile_seconds: float

    @property
    def hub_key(self) -> str:
        parts = urllib.parse.urlsplit(self.resource.url).path.split("/")
        return parts[2] if len(parts) > 2 and parts[1] == "hubs" else ""


async def load(deps: Deps, claimed: pollers.Claimed) -> Context | None:
    """The claimed poller's context; None when its instance or resource is gone or was changed
    after the claim (the configuration's next sync has the say)."""
    row = await deps.connections.record(claimed.instance_id, claimed.instance_updated_at)
    if row is None:
        return None
    resource = row.config.resources.get(claimed.resource)
    if resource is None or resource.fingerprint() != claimed.query_fingerprint:
        return None
    return Context(
        claimed=claimed,
        instance=row,
        resource=resource,
        interval_seconds=interval_seconds(deps.settings, row.config),
        reconcile_seconds=reconcile_seconds(deps.settings, row.config),
    )


def interval_seconds(settings: Settings, configured: instance_config.InstanceConfig) -> float:
    """``event.poller.refresh_interval`` in seconds, never below the server's minimum nor above
    31 days (a configuration stored before intervals were bounded may hold any number)."""
    minutes = configured.refresh_minutes or DEFAULT_REFRESH_MINUTES
    seconds = min(minutes, config.MAX_MINUTES) * 60
    return max(seconds, settings.min_refresh_seconds)


def reconcile_seconds(settings: Settings, configured: instance_config.InstanceConfig) -> float:
    """``event.poller.reconcile_interval`` in seconds (at most 31 days), else the server's
    default."""
    minutes = configured.reconcile_minutes
    if minutes is not None:
        return max(min(minutes, config.MAX_MINUTES) * 60, settings.min_refresh_seconds)
    return settings.reconcile_interval_seconds


def hub(deps: Deps, instance: instances.Instance) -> base.Hub:
    """The hub of an instance: its element's, with its tokens and rate limit."""
    return deps.connections.hub(instance)


class PollLog(logging.LoggerAdapter[logging.Logger]):
    """Log lines that carry the instance, resource and poll ids."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        prefix = (
            f"instance={extra.get('instance_id')} resource={extra.get('resource')} "
            f"poll={extra.get('poll_id')}"
        )
        kwargs.setdefault("extra", {}).update(extra)
        return f"{prefix} {msg}", kwargs


def poll_log(logger: logging.Logger, claimed: pollers.Claimed, poll_id: str) -> PollLog:
    return PollLog(
        logger,
        {"instance_id": claimed.instance_id, "resource": claimed.resource, "poll_id": poll_id},
    )
