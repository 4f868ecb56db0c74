"""Settings, read once from ``HEADWATER_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from headwater.domain import retry
from headwater.errors import ConfigurationError

DEFAULT_DATA_DIR = Path("headwater-data")
CLOUD_ELEMENTS_RETRY_SCHEDULE = tuple(float(4**x) for x in range(1, 10))  # 4, 16, … 262144 s


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment. Build with :func:`from_env`."""

    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'headwater.db'}"
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: str | None = None
    acton_base_url: str = "https://restapi.actonsoftware.com"
    min_refresh_seconds: float = 60.0
    allow_private_callbacks: bool = False
    retry_schedule: tuple[float, ...] = CLOUD_ELEMENTS_RETRY_SCHEDULE
    retention_days: float = 30.0
    poll_overlap_seconds: float = 60.0
    poll_lease_seconds: float = 60.0
    poll_concurrency: int = 16
    poller_failure_limit: int = 100
    reconcile_interval_seconds: float = 3600.0
    reconcile_retry_seconds: float = 10.0
    delivery_lease_seconds: float = 30.0
    delivery_concurrency: int = 32
    delivery_timeout_seconds: float = 10.0
    provider_timeout_seconds: float = 30.0
    token_refresh_margin_seconds: float = 300.0
    acton_rate_per_second: float = 5.0
    tick_seconds: float = 0.25
    max_body_bytes: int = 1024 * 1024
    auth_failure_limit: int = 20
    auth_failure_window_seconds: float = 60.0
    ready_timeout_seconds: float = 5.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_FIELDS = {
    "HEADWATER_DATABASE_URL": ("database_url", str),
    "HEADWATER_DATA_DIR": ("data_dir", Path),
    "HEADWATER_SECRET_KEY": ("secret_key", str),
    "HEADWATER_ACTON_BASE_URL": ("acton_base_url", str),
    "HEADWATER_MIN_REFRESH_SECONDS": ("min_refresh_seconds", float),
    "HEADWATER_RETENTION_DAYS": ("retention_days", float),
    "HEADWATER_POLL_OVERLAP_SECONDS": ("poll_overlap_seconds", float),
    "HEADWATER_POLL_LEASE_SECONDS": ("poll_lease_seconds", float),
    "HEADWATER_POLL_CONCURRENCY": ("poll_concurrency", int),
    "HEADWATER_POLLER_FAILURE_LIMIT": ("poller_failure_limit", int),
    "HEADWATER_RECONCILE_INTERVAL_SECONDS": ("reconcile_interval_seconds", float),
    "HEADWATER_RECONCILE_RETRY_SECONDS": ("reconcile_retry_seconds", float),
    "HEADWATER_DELIVERY_LEASE_SECONDS": ("delivery_lease_seconds", float),
    "HEADWATER_DELIVERY_CONCURRENCY": ("delivery_concurrency", int),
    "HEADWATER_DELIVERY_TIMEOUT_SECONDS": ("delivery_timeout_seconds", float),
    "HEADWATER_PROVIDER_TIMEOUT_SECONDS": ("provider_timeout_seconds", float),
    "HEADWATER_TOKEN_REFRESH_MARGIN_SECONDS": ("token_refresh_margin_seconds", float),
    "HEADWATER_ACTON_RATE_PER_SECOND": ("acton_rate_per_second", float),
    "HEADWATER_TICK_SECONDS": ("tick_seconds", float),
    "HEADWATER_MAX_BODY_BYTES": ("max_body_bytes", int),
    "HEADWATER_AUTH_FAILURE_LIMIT": ("auth_failure_limit", int),
    "HEADWATER_AUTH_FAILURE_WINDOW_SECONDS": ("auth_failure_window_seconds", float),
    "HEADWATER_READY_TIMEOUT_SECONDS": ("ready_timeout_seconds", float),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default ``os.environ``); bad values raise."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (field, kind) in _FIELDS.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        values[field] = value
    if "data_dir" in values and "database_url" not in values:
        values["database_url"] = f"sqlite:///{Path(str(values['data_dir'])) / 'headwater.db'}"
    allow = env.get("HEADWATER_ALLOW_PRIVATE_CALLBACKS", "").strip().lower()
    if allow not in _TRUE | _FALSE:
        raise ConfigurationError(
            f"HEADWATER_ALLOW_PRIVATE_CALLBACKS={allow!r} is not a boolean (true or false)"
        )
    values["allow_private_callbacks"] = allow in _TRUE
    schedule = env.get("HEADWATER_RETRY_SCHEDULE")
    if schedule:
        values["retry_schedule"] = parse_retry_schedule(schedule, "HEADWATER_RETRY_SCHEDULE")
    return Settings(**values)  # type: ignore[arg-type]


def parse_retry_schedule(text: str, name: str) -> tuple[float, ...]:
    """Parse ``4,16,64`` into delays in seconds; raise naming ``name`` when it is not that."""
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigurationError(
            f"{name}={text!r} is not a comma-separated list of seconds"
        ) from None
    problem = retry.schedule_problem(delays)
    if problem is not None:
        raise ConfigurationError(f"{name}={text!r} {problem}")
    return delays
