"""An instance's stored configuration, read once into a typed value.

The stored configuration is the canonical form :func:`headwater.domain.config.normalize` wrote
(secrets apart). Values stored before a bound or a format existed are read leniently here: an
interval that is not a number is absent, a retry schedule given as text is parsed, and a number
beyond today's bounds is capped where it is used.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

from headwater.domain import resources

ENABLED_KEY = "event.notification.enabled"
CALLBACK_KEY = "event.notification.callback.url"
SCHEDULE_KEY = "event.notification.retry.schedule"
VENDOR_KEY = "event.vendor.type"
REFRESH_KEY = "event.poller.refresh_interval"
RECONCILE_KEY = "event.poller.reconcile_interval"
CLIENT_ID_KEY = "oauth.api.key"
REDIRECT_KEY = "oauth.callback.url"


@dataclasses.dataclass(frozen=True)
class InstanceConfig:
    """What the services read of an instance's configuration."""

    events_enabled: bool
    vendor_type: str
    callback_url: str | None  # where notifications go; None when they are off
    configured_callback_url: str | None  # the URL set, notifications on or off
    retry_schedule: tuple[float, ...] | None  # the instance's own, else the server's
    refresh_minutes: float | None
    reconcile_minutes: float | None
    client_id: str
    redirect_uri: str | None
    stored: Mapping[str, object] = dataclasses.field(repr=False, compare=False)

    @property
    def polls(self) -> bool:
        """Events on, by polling, or by webhooks with a poller configuration (the safety net)."""
        if not self.events_enabled:
            return False
        return self.vendor_type == "polling" or bool(self.stored.get(resources.KEY))

    @property
    def receives_webhooks(self) -> bool:
        """Events on, by the provider's webhooks."""
        return self.events_enabled and self.vendor_type == "webhooks"

    @functools.cached_property
    def resources(self) -> Mapping[str, resources.Resource]:
        """The resources to poll (``event.poller.configuration``), read on first use."""
        return resources.read(self.stored)

    @classmethod
    def read(cls, stored: Mapping[str, object]) -> InstanceConfig:
        enabled = stored.get(ENABLED_KEY)
        if isinstance(enabled, str):
            enabled = enabled.strip().lower() == "true"
        url = stored.get(CALLBACK_KEY)
        configured = url.strip() if isinstance(url, str) and url.strip() else None
        vendor = stored.get(VENDOR_KEY)
        client_id, redirect = stored.get(CLIENT_ID_KEY), stored.get(REDIRECT_KEY)
        return cls(
            events_enabled=enabled is True,
            vendor_type=vendor if isinstance(vendor, str) else "polling",
            callback_url=configured if enabled is True else None,
            configured_callback_url=configured,
            retry_schedule=_schedule(stored.get(SCHEDULE_KEY)),
            refresh_minutes=_minutes(stored.get(REFRESH_KEY)),
            reconcile_minutes=_minutes(stored.get(RECONCILE_KEY)),
            client_id="" if client_id is None else str(client_id),
            redirect_uri=redirect if isinstance(redirect, str) else None,
            stored=stored,
        )


def _minutes(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _schedule(value: object) -> tuple[float, ...] | None:
    if isinstance(value, str):
        try:
            value = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            return None
    if isinstance(value, list) and all(
        isinstance(d, int | float) and not isinstance(d, bool) for d in value
    ):
        return tuple(float(d) for d in value)
    return None
