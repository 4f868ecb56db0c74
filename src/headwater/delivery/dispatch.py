"""Dispatching notifications: claim due deliveries, send each, record the attempt and what follows.

The lease taken when claiming is the only thing that keeps two workers off one delivery; no
database lock is held while the HTTP request runs. Every attempt is stored with its time, status,
latency, error and the first KiB of the answer; ``domain.retry`` decides what comes next.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import metrics, tracing
from headwater.delivery import group_commit, operations, retention, sender, signed, targets
from headwater.domain import instance_config, retry, signing
from headwater.errors import HeadwaterError, StorageError
from headwater.settings import Settings
from headwater.storage import db, deliveries, delivery_claims, delivery_log, instances, secrets
from headwater.storage import operations as operations_rows

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class Result:
    """One attempt and what it led to: ``delivered``, ``retry``, ``queued`` or ``failed``."""

    delivery_id: int
    notification_id: str
    instance_id: int
    outcome: str
    attempt: deliveries.Attempt
    next_attempt_at: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def schedule_of(configuration: dict[str, Any], default: Sequence[float]) -> list[float]:
    """The instance's retry schedule (``event.notification.retry.schedule``), else ``default``."""
    own = instance_config.InstanceConfig.read(configuration).retry_schedule
    return list(default if own is None else own)


class Dispatcher:
    """Claims due deliveries, sends them, records each attempt; keeps the outbox tidy."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        secrets: secrets.SecretBox,
        owner: str,
        post: sender.Sender | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.box = secrets
        self.owner = owner
        self.sender: sender.Sender = post or sender.AiohttpSender(
            http,
            timeout_seconds=settings.delivery_timeout_seconds,
            allow_private=settings.allow_private_callbacks,
        )
        self.rng = rng or random.Random()
        self.clock = clock
        self.targets = targets.TargetCache(engine, secrets)
        self.delivered = group_commit.DeliveredRecorder(engine, owner=owner, clock=clock)

    @property
    def lease_seconds(self) -> float:
        """Long enough for a whole attempt: a lease never runs out while its request is running."""
        return max(
            self.settings.delivery_lease_seconds,
            self.settings.delivery_timeout_seconds + LEASE_MARGIN_SECONDS,
        )

    async def claim(self, limit: int) -> list[delivery_claims.Claimed]:
        """Lease up to ``limit`` due deliveries (the heads of their instances' queues)."""
        now = self.clock()
        until = now + dt.timedelta(seconds=self.lease_seconds)
        claim = functools.partial(
            delivery_claims.claim, owner=self.owner, now=now, until=until, limit=limit
        )
        return await db.write(self.engine, claim)

    async def deliver(self, claimed: delivery_claims.Claimed) -> Result | None:
        """Send ``claimed`` once and record what happened; None when its instance is gone. The
        attempt is a span of the trace of the poll that found its events (when traces are on).
        """
        attributes = {
            "headwater.delivery_id": claimed.id,
            "headwater.notification_id": claimed.notification_id,
            "headwater.instance_id": claimed.instance_id,
            "headwater.attempt": claimed.attempt_count + 1,
        }
        with tracing.span(
            "headwater.delivery.attempt", parent=claimed.traceparent, attributes=attributes
        ) as span:
            result = await self._deliver(claimed)
            if result is not None:
                span.set("headwater.outcome", result.outcome)
                if result.attempt.status_code is not None:
                    span.set("http.response.status_code", result.attempt.status_code)
            return result

    async def _deliver(self, claimed: delivery_claims.Claimed) -> Result | None:
        """Send ``claimed`` once and record what happened; None when its instance is gone.

        Nothing that goes wrong here leaves the delivery wedged: a failure before or during the
        send (a signature key that cannot be decrypted, a bug) is recorded as a failed attempt
        and retried on the schedule like any other; when even recording fails (the database is
        down), the lease runs out and another worker takes the delivery over, and the log says
        so.
        """
        started = self.clock()
        url = claimed.url
        configuration: dict[str, Any] = {}
        try:
            if claimed.kind == deliveries.OPERATIONS:
                url, outcome = await self._send_operations(claimed, started)
            else:
                target = await self.targets.get(claimed.instance_id, claimed.instance_updated_at)
                if target is None:
                    return None
                configuration = target.sending.configuration
                url = target.config.callback_url or claimed.url
                body = claimed.body.encode()
                outcome = await self.sender.post(
                    url, body, target.headers(claimed.notification_id, body, started)
                )
        except Exception as error:
            log.error(
                "delivery %s (%s) of instance %s could not be sent: %s",
                claimed.id,
                claimed.notification_id,
                claimed.instance_id,
                signed.describe(error),
                exc_info=not isinstance(error, HeadwaterError),
            )
            outcome = sender.Outcome(
                status=None,
                latency_ms=max(0.0, (self.clock() - started).total_seconds() * 1000),
                error=f"not sent: {signed.describe(error)}",
            )
        attempt = signed.attempt(started, outcome)
        metrics.DELIVERY_ATTEMPT_SECONDS.observe(outcome.latency_ms / 1000)
        step = self._next_step(claimed, configuration, outcome, started)
        try:
            result = await self._record(claimed, url, attempt, step)
        except Exception as error:
            log.error(
                "delivery %s (%s) of instance %s: the attempt could not be recorded (%s); its"
                " lease runs out within %g s and the delivery is tried again then",
                claimed.id,
                claimed.notification_id,
                claimed.instance_id,
                signed.describe(error),
                self.lease_seconds,
                exc_info=not isinstance(error, StorageError),
            )
            result = Result(
                claimed.id, claimed.notification_id, claimed.instance_id, "unrecorded", attempt
            )
        metrics.NOTIFICATIONS.labels(outcome=result.outcome).inc()
        log.info(
            "delivery %s (%s) of instance %s to %s: %s (%s)",
            claimed.id,
            claimed.notification_id,
            claimed.instance_id,
            url,
            result.outcome,
            attempt.status_code if attempt.status_code is not None else attempt.error,
        )
        return result

    async def _send_operations(
        self, claimed: delivery_claims.Claimed, started: dt.datetime
    ) -> tuple[str, sender.Outcome]:
        """Send an operations notification to its organization's endpoint as set now."""
        async with db.reading(self.engine) as conn:
            endpoint = await operations_rows.of_instance(conn, claimed.instance_id)
        if endpoint is None:  # retried on the schedule: an endpoint set meanwhile receives it
            error = "not sent: the organization has no operations endpoint"
            return claimed.url, sender.Outcome(status=None, latency_ms=0.0, error=error)
        key = operations.open_key(self.box, endpoint.signature_key)
        body = claimed.body.encode()
        signed_headers = signing.headers(
            key, claimed.notification_id, int(started.timestamp()), body
        )
        return endpoint.url, await self.sender.post(endpoint.url, body, signed_headers)

    def _next_step(
        self,
        claimed: delivery_claims.Claimed,
        configuration: dict[str, Any],
        outcome: sender.Outcome,
        started: dt.datetime,
    ) -> retry.Step:
        """What follows the attempt; one lease period later when the decision itself fails."""
        try:
            return retry.next_step(
                attempt_number=claimed.attempt_count + 1,
                schedule=schedule_of(configuration, self.settings.retry_schedule),
                status=outcome.status,
                retry_after=retry.parse_retry_after(outcome.retry_after, started),
                now=self.clock(),
                rng=self.rng,
            )
        except Exception:
            log.exception(
                "delivery %s of instance %s: deciding the next attempt failed; retrying in %g s",
                claimed.id,
                claimed.instance_id,
                self.lease_seconds,
            )
            return retry.RetryAt(self.clock() + dt.timedelta(seconds=self.lease_seconds))

    async def _record(
        self,
        claimed: delivery_claims.Claimed,
        url: str,
        attempt: deliveries.Attempt,
        step: retry.Step,
    ) -> Result:
        """Store the attempt and what follows it, in one transaction that first takes the
        instance's row lock (the lock order of :mod:`headwater.storage.db`)."""
        now = self.clock()
        base = Result(claimed.id, claimed.notification_id, claimed.instance_id, "", attempt)
        if isinstance(step, retry.Delivered):  # the common case: written with its neighbours
            done = delivery_claims.Delivered(
                claimed.id, attempt, url if url != claimed.url else None
            )
            held = await self.delivered.record(done, claimed.instance_id)
            if held:
                return dataclasses.replace(base, outcome=deliveries.DELIVERED)
            log.warning(
                "delivery %s of instance %s: lease lost during the attempt; status left to its"
                " new owner",
                claimed.id,
                claimed.instance_id,
            )
            return dataclasses.replace(base, outcome="lost")

        async def write(conn: AsyncConnection) -> tuple[Result, list[int] | None, str | None]:
            # giving up changes the instance row (its subscription); anything else only the
            # rows beneath it. SQLite has no row locks: its writers are serialized whole.
            operational = claimed.kind == deliveries.OPERATIONS
            giving_up = isinstance(step, retry.GiveUp) and not operational
            if giving_up or conn.dialect.name != "sqlite":
                await instances.lock(conn, claimed.instance_id, change=giving_up)
            held = await delivery_claims.record_attempt(
                conn,
                claimed.id,
                owner=self.owner,
                attempt=attempt,
                delivered=isinstance(step, retry.Delivered),
            )
            if not held:
                return dataclasses.replace(base, outcome="lost"), None, None
            if url != claimed.url:
                await deliveries.set_url(conn, claimed.id, url)
            if isinstance(step, retry.Delivered):
                await delivery_claims.mark_delivered(conn, claimed.id, owner=self.owner, now=now)
                return dataclasses.replace(base, outcome=deliveries.DELIVERED), None, None
            if isinstance(step, retry.RetryAt):
                await delivery_claims.mark_retry(
                    conn, claimed.id, owner=self.owner, now=now, at=step.at, error=attempt.error
                )
                outcome = dataclasses.replace(
                    base, outcome=deliveries.RETRY, next_attempt_at=step.at
                )
                return outcome, None, None
            error = f"{attempt.error}; {step.reason}" if attempt.error else step.reason
            if operational:  # nothing waits behind it: it fails alone
                await delivery_claims.mark_failed(
                    conn, claimed.id, owner=self.owner, now=now, error=error
                )
                return dataclasses.replace(base, outcome=deliveries.FAILED), None, error
            queued = await delivery_claims.give_up(
                conn, claimed.id, claimed.instance_id, now=now, error=error
            )
            return dataclasses.replace(base, outcome=deliveries.QUEUED), queued, error

        result, queued, error = await db.write(self.engine, write)
        if result.outcome == "lost":
            log.warning(
                "delivery %s of instance %s: lease lost during the attempt; status left to its"
                " new owner",
                claimed.id,
                claimed.instance_id,
            )
        elif queued is not None:
            log.warning(
                "delivery %s (%s) of instance %s gave up: %s; subscription deactivated,"
                " %d notification(s) queued until released",
                claimed.id,
                claimed.notification_id,
                claimed.instance_id,
                error,
                len(queued),
            )
        elif result.outcome == deliveries.FAILED:
            log.warning(
                "operations notification %s (%s) of instance %s failed: %s",
                claimed.id,
                claimed.notification_id,
                claimed.instance_id,
                error,
            )
        return result

    async def queue_stats(self) -> delivery_log.QueueStats:
        """Undelivered deliveries by status, and when the oldest of them was created."""
        async with db.reading(self.engine) as conn:
            return await delivery_log.stats(conn)

    async def purge(self) -> retention.Purged:
        """Delete what retention lets go (``HEADWATER_RETENTION_DAYS``)."""
        return await retention.purge(
            self.engine, now=self.clock(), retention_days=self.settings.retention_days
        )
