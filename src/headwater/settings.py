"""Settings, read once from ``HEADWATER_*`` environment variables.

``_FIELDS`` is the one table of them: each row names the variable, the ``Settings`` field it
sets, the kind of value it takes and what it means. :func:`from_env` parses the environment with
it and :func:`markdown_table` renders it for README.md (``headwater settings`` prints it). A new
setting is a ``Settings`` field with its default plus one row.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
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
    previous_secret_key: str | None = None
    public_url: str | None = None
    elements_path: tuple[Path, ...] = ()
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
    tick_seconds: float = 0.25
    max_body_bytes: int = 1024 * 1024
    auth_failure_limit: int = 20
    auth_failure_window_seconds: float = 60.0
    ready_timeout_seconds: float = 5.0
    log_format: str = "text"
    alert_backlog_seconds: float = 900.0
    alert_check_seconds: float = 10.0
    signature_overlap_seconds: float = 86400.0
    credential_overlap_seconds: float = 86400.0
    # every other HEADWATER_* variable, for the elements to read the ones they declare
    element_settings: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@dataclasses.dataclass(frozen=True)
class Variable:
    """One row of the settings table."""

    name: str
    field: str
    kind: str  # a key of _PARSERS; also the "value" column of the rendered table
    meaning: str


TEXT, PATH, BOOLEAN, SECONDS_LIST = "text", "path", "boolean", "list of seconds"
NUMBER, POSITIVE, COUNT = "number ≥ 0", "number > 0", "integer ≥ 1"
WHOLE = "integer ≥ 0"
PATH_LIST = "paths"
LOG_FORMAT = "`text` or `json`"

# settings each element reads for itself, named after its key
_ELEMENT_ROWS = (
    ("HEADWATER_<KEY>_BASE_URL", "the declaration's", TEXT,
     "where element `<KEY>` is: its OAuth pages and API (a sandbox's URL, to try it "
     "offline)"),
    ("HEADWATER_<KEY>_<NAME>_URL", "the declaration's", TEXT,
     "another URL element `<KEY>` declares under `api.urls` (e.g. Mailchimp's `LOGIN`)"),
    ("HEADWATER_<KEY>_RATE_PER_SECOND", "the declaration's", POSITIVE,
     "calls per second each instance of element `<KEY>` makes at most"),
)  # fmt: skip

_FIELDS: tuple[Variable, ...] = (
    Variable("HEADWATER_DATABASE_URL", "database_url", TEXT,
             "`sqlite:///path` or `postgresql://user@host/db` (many processes share one "
             "PostgreSQL); default: `headwater.db` in the data folder"),
    Variable("HEADWATER_DATA_DIR", "data_dir", PATH,
             "folder of the SQLite database and of the generated `.secret-key` file"),
    Variable("HEADWATER_SECRET_KEY", "secret_key", TEXT,
             "encrypts stored secrets; required with PostgreSQL (the same on every process); "
             "on SQLite generated into `<data folder>/.secret-key` when absent"),
    Variable("HEADWATER_PREVIOUS_SECRET_KEY", "previous_secret_key", TEXT,
             "the secret key being replaced: still accepted for reading while "
             "`headwater secret-key rotate` seals every stored secret under "
             "`HEADWATER_SECRET_KEY` (see docs/deploy.md)"),
    Variable("HEADWATER_PUBLIC_URL", "public_url", TEXT,
             "where providers reach this server (e.g. `https://hooks.example.com`): the base "
             "of the webhook URLs Headwater registers with providers that can (Mailchimp)"),
    Variable("HEADWATER_ELEMENTS_PATH", "elements_path", PATH_LIST,
             "folders of your own elements (each holding an `element.yaml`, or folders of "
             "them), separated by `:`"),
    Variable("HEADWATER_MIN_REFRESH_SECONDS", "min_refresh_seconds", POSITIVE,
             "the shortest `event.poller.refresh_interval` an instance may ask for"),
    Variable("HEADWATER_ALLOW_PRIVATE_CALLBACKS", "allow_private_callbacks", BOOLEAN,
             "allow callback URLs on private or loopback addresses (refused by default)"),
    Variable("HEADWATER_RETRY_SCHEDULE", "retry_schedule", SECONDS_LIST,
             "delays between delivery retries, e.g. `4,16,64`; after the last one the "
             "subscription is deactivated and notifications queue"),
    Variable("HEADWATER_RETENTION_DAYS", "retention_days", POSITIVE,
             "events, notifications and attempts older than this are purged (queued ones kept)"),
    Variable("HEADWATER_POLL_OVERLAP_SECONDS", "poll_overlap_seconds", NUMBER,
             "how far each poll reaches back before the previous poll's cursor"),
    Variable("HEADWATER_POLL_LEASE_SECONDS", "poll_lease_seconds", POSITIVE,
             "how long a process holds a claimed poller before another may take it over"),
    Variable("HEADWATER_POLL_CONCURRENCY", "poll_concurrency", COUNT,
             "pollers one process runs at once"),
    Variable("HEADWATER_POLLER_FAILURE_LIMIT", "poller_failure_limit", COUNT,
             "consecutive failures after which a poller disables itself"),
    Variable("HEADWATER_RECONCILE_INTERVAL_SECONDS", "reconcile_interval_seconds", POSITIVE,
             "how often deletes are looked for, unless an instance sets "
             "`event.poller.reconcile_interval`"),
    Variable("HEADWATER_RECONCILE_RETRY_SECONDS", "reconcile_retry_seconds", POSITIVE,
             "how soon a refused reconciliation (a listing that changed while it was read) is "
             "tried again; later tries wait longer, never longer than the poll interval"),
    Variable("HEADWATER_DELIVERY_LEASE_SECONDS", "delivery_lease_seconds", POSITIVE,
             "how long a process holds a claimed delivery before another may take it over"),
    Variable("HEADWATER_DELIVERY_CONCURRENCY", "delivery_concurrency", COUNT,
             "notifications one process sends at once (at most one per instance)"),
    Variable("HEADWATER_DELIVERY_TIMEOUT_SECONDS", "delivery_timeout_seconds", POSITIVE,
             "how long a callback URL may take to answer a notification"),
    Variable("HEADWATER_PROVIDER_TIMEOUT_SECONDS", "provider_timeout_seconds", POSITIVE,
             "how long a provider (Act-On) may take to answer"),
    Variable("HEADWATER_TOKEN_REFRESH_MARGIN_SECONDS", "token_refresh_margin_seconds", NUMBER,
             "provider access tokens are refreshed this long before they expire"),
    Variable("HEADWATER_TICK_SECONDS", "tick_seconds", POSITIVE,
             "the longest the background loops sleep before looking for due work"),
    Variable("HEADWATER_MAX_BODY_BYTES", "max_body_bytes", COUNT,
             "the largest request body accepted, in bytes; a larger one gets 413"),
    Variable("HEADWATER_AUTH_FAILURE_LIMIT", "auth_failure_limit", WHOLE,
             "failed authentications one client address may make per window before it gets "
             "429 (counted per process; 0 turns the limit off)"),
    Variable("HEADWATER_AUTH_FAILURE_WINDOW_SECONDS", "auth_failure_window_seconds", POSITIVE,
             "the sliding window of `HEADWATER_AUTH_FAILURE_LIMIT`"),
    Variable("HEADWATER_READY_TIMEOUT_SECONDS", "ready_timeout_seconds", POSITIVE,
             "how long `/readyz` waits for its test write to the database before answering 503"),
    Variable("HEADWATER_CREDENTIAL_OVERLAP_SECONDS", "credential_overlap_seconds", NUMBER,
             "how long a rotated user or organization secret, or instance token, keeps working "
             "beside its replacement, unless the rotation says otherwise"),
    Variable("HEADWATER_LOG_FORMAT", "log_format", LOG_FORMAT,
             "`json`: one JSON object per log line, with the request, instance, poller, poll, "
             "event and delivery ids it concerns"),
    Variable("HEADWATER_ALERT_BACKLOG_SECONDS", "alert_backlog_seconds", POSITIVE,
             "an instance whose oldest undelivered notification is older than this raises the "
             "`backlog.exceeded` operations alert (and `backlog.cleared` once it is not)"),
    Variable("HEADWATER_ALERT_CHECK_SECONDS", "alert_check_seconds", POSITIVE,
             "how often each worker looks for alert transitions (pollers disabled, instances "
             "invalid, subscriptions deactivated, backlogs) and their recoveries"),
    Variable("HEADWATER_SIGNATURE_OVERLAP_SECONDS", "signature_overlap_seconds", POSITIVE,
             "how long a rotated signature key keeps signing beside the new one, unless the "
             "rotation asks for its own `overlapSeconds`"),
)  # fmt: skip

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _number(name: str, raw: str, *, positive: bool = False) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise ConfigurationError(f"{name}={raw!r} must be a number {bound}")
    return value


def _count(name: str, raw: str, *, least: int = 1) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value < least:
        raise ConfigurationError(f"{name}={raw!r} must be {least} or more")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    text = raw.strip().lower()
    if text not in choices:
        raise ConfigurationError(f"{name}={raw!r} must be one of: {', '.join(choices)}")
    return text


def _boolean(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text not in _TRUE | _FALSE:
        raise ConfigurationError(f"{name}={raw!r} is not a boolean (true or false)")
    return text in _TRUE


_PARSERS: dict[str, Callable[[str, str], object]] = {
    TEXT: lambda name, raw: raw,
    PATH: lambda name, raw: Path(raw),
    PATH_LIST: lambda name, raw: tuple(Path(p) for p in raw.split(os.pathsep) if p.strip()),
    BOOLEAN: _boolean,
    SECONDS_LIST: lambda name, raw: parse_retry_schedule(raw, name),
    NUMBER: _number,
    POSITIVE: lambda name, raw: _number(name, raw, positive=True),
    COUNT: _count,
    WHOLE: lambda name, raw: _count(name, raw, least=0),
    LOG_FORMAT: lambda name, raw: _choice(name, raw, ("text", "json")),
}


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default ``os.environ``); bad values raise, naming the
    variable. An empty (or blank) variable counts as unset."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for row in _FIELDS:
        raw = env.get(row.name)
        if raw is None or not raw.strip():
            continue
        values[row.field] = _PARSERS[row.kind](row.name, raw)
    known = {row.name for row in _FIELDS}
    values["element_settings"] = {
        name: raw
        for name, raw in env.items()
        if name.startswith("HEADWATER_") and name not in known
    }
    if "data_dir" in values and "database_url" not in values:
        values["database_url"] = f"sqlite:///{Path(str(values['data_dir'])) / 'headwater.db'}"
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


def variables() -> tuple[Variable, ...]:
    """The rows of the settings table, in order."""
    return _FIELDS


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(_shown(item) for item in value)
    return str(value)


def markdown_table() -> str:
    """The settings table as Markdown: variable, default, value, meaning (README.md holds a
    copy, and a test keeps the two equal)."""
    defaults = Settings()
    lines = ["| variable | default | value | meaning |", "| --- | --- | --- | --- |"]
    for row in _FIELDS:
        value = getattr(defaults, row.field)
        default = "none" if value is None or value == () else f"`{_shown(value)}`"
        lines.append(f"| `{row.name}` | {default} | {row.kind} | {row.meaning} |")
    for name, default, kind, meaning in _ELEMENT_ROWS:
        lines.append(f"| `{name}` | {default} | {kind} | {meaning} |")
    return "\n".join(lines) + "\n"
