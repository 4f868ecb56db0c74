"""Failed polls: how a failure is named and shown, and how it is recorded on its poller."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater import errors
from headwater.domain import instance_config, records, schedule
from headwater.poller import context
from headwater.storage import db, poller_outcomes, pollers
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
    try:
        return f"internal error: {type(error).__name__}: {error}"
    except Exception:  # an error that cannot even say what it is
        return f"internal error: {type(error).__name__}"


async def handle(
    deps: context.Deps,
    claimed: pollers.Claimed,
    error: Exception,
    *,
    started: dt.datetime,
    plog: context.PollLog,
) -> tuple[str, str]:
    """Log and record a failed poll; returns its outcome label and its description.

    Never raises (but for cancellation). When recording the failure fails itself, a plainer
    record (:func:`record_plainly`) is tried; when that fails too (the database is down), the
    poller's lease runs out and another run takes it over, and the log says so.
    """
    name, message = label(error), describe(error)
    if isinstance(error, context.LeaseLost):
        plog.warning("lease lost to another worker; outcome dropped")
        return name, message
    if isinstance(error, errors.HeadwaterError):
        plog.warning("poll failed (%s): %s", name, message)
    else:
        plog.exception("poll crashed")
    try:
        held = await record(deps, claimed, error, started=started)
    except Exception as failure:
        if isinstance(failure, errors.StorageError):
            plog.error("could not record the failure: %s", failure.message)
        else:
            plog.exception("recording the failure crashed; recording it plainly")
        try:
            held = await record_plainly(deps, claimed, error, failure, started=started)
        except Exception as last:
            plog.error(
                "could not record the failure at all (%s); the lease runs out within %g s and"
                " the poller runs again then",
                describe(last),
                deps.settings.poll_lease_seconds,
            )
            return name, message
    return (name if held else "lease_lost"), message


async def record(
    deps: context.Deps, claimed: pollers.Claimed, error: BaseException, *, started: dt.datetime
) -> bool:
    """Write a failed poll: last error, one more failure in a row, the next run (backing off, or
    at the provider's ``Retry-After``), the poller disabled at the failure limit, and no next run
    while its instance is invalid. False when the lease was lost meanwhile."""
    message = describe(error)

    async def write(conn: AsyncConnection) -> bool:
        now = dt.datetime.now(dt.UTC)
        row = await pollers.hold(conn, claimed.id, owner=claimed.lease_owner)
        if row is None:
            return False
        instance = await instance_rows.get(conn, claimed.instance_id, organization_id=None)
        configured = instance_config.InstanceConfig.read(
            {} if instance is None else instance.configuration
        )
        planned = schedule.after_failure(
            now,
            interval_seconds=context.interval_seconds(deps.settings, configured),
            failures_before=row.consecutive_failures,
            limit=deps.settings.poller_failure_limit,
            error=message,
            retry_after=error.retry_after
            if isinstance(error, errors.ProviderRateLimited)
            else None,
            jitter=random.random(),
        )
        next_run = planned.run_at
        if instance is None or not instance.valid:
            next_run = None  # re-authenticating the instance makes it due again (pollers.sync)
        disabled = planned.disabled_reason is not None
        outcome = poller_outcomes.Finish(
            next_run_at=next_run,
            last_run_at=started,
            last_error=message,
            consecutive_failures=planned.consecutive_failures,
            enabled=False if disabled else poller_outcomes.KEEP,
            disabled_reason=planned.disabled_reason if disabled else poller_outcomes.KEEP,
        )
        return await poller_outcomes.finish(
            conn, claimed.id, owner=claimed.lease_owner, now=now, outcome=outcome
        )

    return await db.write(deps.engine, write)


async def record_plainly(
    deps: context.Deps,
    claimed: pollers.Claimed,
    error: BaseException,
    failure: BaseException,
    *,
    started: dt.datetime,
) -> bool:
    """Write a failed poll when :func:`record` itself failed (``failure``): both errors, one
    more failure in a row (disabled at the limit), and the next run one lease period away, with
    nothing read from the instance's configuration. False when the lease was lost meanwhile."""
    message = f"{describe(error)} (recording it failed: {describe(failure)})"

    async def write(conn: AsyncConnection) -> bool:
        now = dt.datetime.now(dt.UTC)
        row = await pollers.hold(conn, claimed.id, owner=claimed.lease_owner)
        if row is None:
            return False
        failures = row.consecutive_failures + 1
        limit = deps.settings.poller_failure_limit
        outcome = poller_outcomes.Finish(
            next_run_at=now + dt.timedelta(seconds=deps.settings.poll_lease_seconds),
            last_run_at=started,
            last_error=message,
            consecutive_failures=failures,
        )
        if 0 < limit <= failures:
            outcome = dataclasses.replace(
                outcome,
                next_run_at=None,
                enabled=False,
                disabled_reason=f"disabled after {failures} failures in a row; last: {message}",
            )
        return await poller_outcomes.finish(
            conn, claimed.id, owner=claimed.lease_owner, now=now, outcome=outcome
        )

    return await db.write(deps.engine, write)
