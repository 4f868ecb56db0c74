"""What ``headwater status`` shows: every instance, its pollers' health and its delivery queue.

:func:`gather` reads it from the database; :func:`as_json` and :func:`table` render it. A
poller's lag is how long past its next run it is (``now − nextRunDate``) while it is due and
not yet run; a poller that is on time has lag 0, one that cannot run (paused, or its instance
disabled, invalid or with events off) none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.storage import db, pollers
from headwater.storage import status as rows

ERROR_WIDTH = 60


@dataclasses.dataclass(frozen=True)
class PollerHealth:
    """One poller as an operator sees it."""

    resource: str
    enabled: bool
    disabled_reason: str | None
    last_run: dt.datetime | None
    next_run: dt.datetime | None
    lag_seconds: float | None
    consecutive_failures: int
    last_error: str | None
    last_event_count: int | None


@dataclasses.dataclass(frozen=True)
class InstanceHealth:
    """One instance: its state, its subscription, its queue and its pollers."""

    instance: rows.InstanceRow
    backlog: rows.Backlog
    pollers: list[PollerHealth]

    @property
    def state(self) -> str:
        if self.instance.disabled:
            return "disabled"
        if not self.instance.valid:
            return "invalid"
        if not self.instance.events_enabled:
            return "events off"
        return "ok"


def health(poller: pollers.Poller, now: dt.datetime, *, runs: bool = True) -> PollerHealth:
    """A poller row's health at ``now``; ``runs`` is false when its instance keeps it from
    running (disabled, invalid, events off), and then it has no lag."""
    lag = None
    if runs and poller.enabled and poller.next_run_at is not None:
        lag = max((now - poller.next_run_at).total_seconds(), 0.0)
    return PollerHealth(
        resource=poller.resource,
        enabled=poller.enabled,
        disabled_reason=poller.disabled_reason,
        last_run=poller.last_run_at,
        next_run=poller.next_run_at,
        lag_seconds=lag,
        consecutive_failures=poller.consecutive_failures,
        last_error=poller.last_error,
        last_event_count=poller.last_event_count,
    )


async def gather(engine: AsyncEngine, *, now: dt.datetime) -> list[InstanceHealth]:
    """Every instance's health at ``now``, read in one transaction, in instance id order."""
    async with db.reading(engine) as conn:
        instances = await rows.instances(conn)
        by_instance = await rows.pollers_of(conn)
        backlogs = await rows.backlogs(conn, [row.id for row in instances])
    return [
        InstanceHealth(
            instance=row,
            backlog=backlogs[row.id],
            pollers=[
                health(poller, now, runs=row.valid and row.events_enabled and not row.disabled)
                for poller in by_instance.get(row.id, [])
            ],
        )
        for row in instances
    ]


def _date(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def as_json(report: list[InstanceHealth], *, now: dt.datetime) -> list[dict[str, Any]]:
    """The report in the API's spelling (camelCase keys, ISO-8601 dates)."""
    return [
        {
            "id": item.instance.id,
            "name": item.instance.name,
            "elementKey": item.instance.element_key,
            "organizationId": item.instance.organization_id,
            "organization": item.instance.organization,
            "state": item.state,
            "valid": item.instance.valid,
            "invalidReason": item.instance.invalid_reason,
            "disabled": item.instance.disabled,
            "eventsEnabled": item.instance.events_enabled,
            "subscriptionActive": item.instance.subscription_active,
            "queue": {
                **item.backlog.by_status,
                "total": item.backlog.total,
                "oldestDate": _date(item.backlog.oldest),
                "oldestAgeSeconds": None
                if item.backlog.oldest is None
                else max((now - item.backlog.oldest).total_seconds(), 0.0),
            },
            "pollers": [
                {
                    "resource": poller.resource,
                    "enabled": poller.enabled,
                    "disabledReason": poller.disabled_reason,
                    "lastRunDate": _date(poller.last_run),
                    "nextRunDate": _date(poller.next_run),
                    "lagSeconds": poller.lag_seconds,
                    "consecutiveFailures": poller.consecutive_failures,
                    "lastError": poller.last_error,
                    "lastEventCount": poller.last_event_count,
                }
                for poller in item.pollers
            ],
        }
        for item in report
    ]


def duration(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: short enough for a table cell."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _ago(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return "never"
    return f"{duration(max((now - value).total_seconds(), 0.0))} ago"


def _short(text: str | None) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


HEADINGS = (
    "INSTANCE", "ELEMENT", "ORGANIZATION", "STATE", "SUBSCRIPTION", "QUEUE",
    "POLLER", "POLLING", "LAST RUN", "LAG", "FAILURES", "LAST ERROR",
)  # fmt: skip


def _queue(backlog: rows.Backlog, now: dt.datetime) -> str:
    if backlog.oldest is None:
        return str(backlog.total)
    return f"{backlog.total} (oldest {_ago(backlog.oldest, now)})"


def _rows(report: list[InstanceHealth], now: dt.datetime) -> list[tuple[str, ...]]:
    lines: list[tuple[str, ...]] = []
    for item in report:
        row = item.instance
        first = (
            f"{row.id} {row.name}",
            row.element_key,
            row.organization,
            item.state,
            "active" if row.subscription_active else "deactivated",
            _queue(item.backlog, now),
        )
        blank = ("",) * len(first)
        if not item.pollers:
            lines.append((*first, "-", "", "", "", "", ""))
        for index, poller in enumerate(item.pollers):
            lag = "" if poller.lag_seconds is None else duration(poller.lag_seconds)
            lines.append(
                (
                    *(first if index == 0 else blank),
                    poller.resource,
                    "on" if poller.enabled else "disabled",
                    _ago(poller.last_run, now),
                    lag,
                    str(poller.consecutive_failures),
                    _short(poller.last_error or poller.disabled_reason),
                )
            )
    return lines


def table(report: list[InstanceHealth], *, now: dt.datetime) -> str:
    """The report as a plain-text table, one line per poller."""
    if not report:
        return "no instances\n"
    lines = [HEADINGS, *_rows(report, now)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADINGS))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        + "\n"
        for line in lines
    )
