"""Keeping an instance's poller rows in line with its configuration and state."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater.domain import instance_config, resources
from headwater.storage import pollers


def active(config: instance_config.InstanceConfig, *, valid: bool, disabled: bool) -> bool:
    """Whether an instance's pollers run: events on, polling, enabled and valid."""
    return config.polls and valid and not disabled


async def sync(
    conn: AsyncConnection,
    instance_id: int,
    plain: Mapping[str, Any],
    *,
    active: bool,
    now: dt.datetime,
    overlap_seconds: float,
) -> None:
    """Create, keep, reset or delete the instance's poller rows (in the caller's transaction).

    A poller that starts now starts ``overlap_seconds`` (the poll overlap) before ``now``,
    unless its resource gives ``backfillFrom`` (see :func:`headwater.storage.pollers.sync`).
    """
    await pollers.sync(
        conn,
        instance_id=instance_id,
        resources=resources.read(plain),
        active=active,
        now=now,
        overlap_ms=math.ceil(overlap_seconds * 1000),
    )
