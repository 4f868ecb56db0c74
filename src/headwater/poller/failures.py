"""Failed polls: how a failure is named and shown, and how it is recorded on its poller."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from headwater import errors
from headwater.domain import schedule
from headwater.poller import context, records
from headwater.storage import db, pollers
from headwater.storage import instances as instance_rows


def label(error: BaseException) -> str:
    """The ``headwater_polls_total`` outcome of a failure."""
    if isinstance(error, context.LeaseLost):
        return "lease_lost"
    if isinstance(error, errors.ProviderRateLimited):
        return "rate_limited"
    if isinstance(error, errors.ProviderUnavailable):
        return "unavailable"
    if isinstance(error, errors.ProviderRefusal | errors.ProviderAuthExpired):
        return "refused"
    if isinstance(error, records.RecordError):
        return "record_error"
    return "failed"


def describe(error: BaseException) -> str:
    """The poller's ``lastError`` for a failure."""
    if isinstance(error, errors.HeadwaterError):
        text = error.message
        provider = getattr(error, "provider_message", None)
        if provider and provider not in text:
            text = f"{text} (provider: {provider})"
        return text
    return f"internal error: {type(error).__name__}: {error}"


async def handle(
    deps: context.Deps,
    claimed: pollers.Claimed,
    error: Exception,
    *,
    started: dt.datetime,
    plog: context.PollLog,
) -> tuple[str, str]:
    """Log and record a failed poll; returns its outcome label and its description."""
    name, message = label(error), describe(error)
    if isinstance(error, context.LeaseLost):
        plog.warning("lease lost to another worker; outcome dropped")
        return name, message
    if isinstance(error, errors.HeadwaterError):
        plog.warning("poll failed (%s): %s", name, message)
    else:
        plog.exception("poll crashed")
    try:
        if not await record(deps, claimed, error, started=started):
            return "lease_lost", message
    except errors.StorageError as storage_error:
        plog.error("could not record the failure: %s", storage_error.message)
    return name, message


async def record(
    deps: context.Deps, claimed: pollers.Claimed, error: BaseException, *, started: dt.datetime
) -> bool:
    """Write a failed poll: last error, one more failure in a row, the next run (backing off, or
    at the provider's ``Retry-After``), the poller disabled at the failure limit, and no next run
    while its instance is invalid. False when the lease was lost meanwhile."""
    message = describe(error)
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(deps.engine) as conn:
        row = await pollers.hold(conn, claimed.id, owner=claimed.lease_owner)
        if row is None:
            return False
        instance = await instance_rows.get(conn, claimed.instance_id, organization_id=None)
        configuration = {} if instance is None else instance.configuration
        planned = schedule.after_failure(
            now,
            interval_seconds=context.interval_seconds(deps.settings, configuration),
            failures_before=row.consecutive_failures,
            limit=deps.settings.poller_failure_limit,
            error=message,
            retry_after=error.retry_after
            if isinstance(error, errors.ProviderRateLimited)
            else None,
            jitter=random.random(),
        )
        values: dict[str, Any] = {
            "last_run_at": started,
            "last_error": message,
            "consecutive_failures": planned.consecutive_failures,
        }
        if planned.disabled_reason is not None:
            values.update(enabled=False, disabled_reason=planned.disabled_reason)
        next_run = planned.run_at
        if instance is None or not instance.valid:
            next_run = None  # re-authenticating the instance makes it due again (pollers.sync)
        return await pollers.finish(
            conn, claimed.id, owner=claimed.lease_owner, now=now, next_run_at=next_run, **values
        )
