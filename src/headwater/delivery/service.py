"""Delivering notifications: send a claimed delivery, record the attempt, decide what follows.

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
from typing import Any, Protocol

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import metrics
from headwater.delivery import outbox, sender
from headwater.domain import ceql, retry, signing
from headwater.errors import (
    ConflictError,
    HeadwaterError,
    InputError,
    NotFoundError,
    StorageError,
)
from headwater.settings import Settings
from headwater.storage import (
    db,
    deliveries,
    delivery_claims,
    delivery_log,
    events,
    instances,
    secrets,
)

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 1.0
MAX_REPLAY = 10_000


class Deps(Protocol):
    """What delivering needs of the process (``bootstrap.Container`` has it all)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def secrets(self) -> secrets.SecretBox: ...
    @property
    def node_id(self) -> str: ...


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> sender.Outcome:
        """POST ``body``; never raises for what the network or the receiver does."""
        ...


@dataclasses.dataclass(frozen=True)
class View:
    """A delivery row and its attempts, oldest first."""

    row: deliveries.Row
    attempts: list[deliveries.Attempt]


@dataclasses.dataclass(frozen=True)
class Replayed:
    event_count: int
    delivery_ids: list[int]


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
    value = configuration.get(outbox.SCHEDULE_KEY)
    if isinstance(value, str):
        try:
            value = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            value = None
    if isinstance(value, list) and all(isinstance(d, int | float) for d in value):
        return [float(d) for d in value]
    return list(default)


class DeliveryService:
    """Sends deliveries, records attempts, and answers for them."""

    def __init__(
        self,
        deps: Deps,
        *,
        post: Sender | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.settings = deps.settings
        self.engine = deps.engine
        self.box = deps.secrets
        self.owner = deps.node_id
        self.sender: Sender = post or sender.AiohttpSender(
            deps.http,
            timeout_seconds=deps.settings.delivery_timeout_seconds,
            allow_private=deps.settings.allow_private_callbacks,
        )
        self.rng = rng or random.Random()
        self.clock = clock

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
            async with db.reading(self.engine) as conn:
                target = await deliveries.sending(conn, claimed.instance_id)
            if target is None:
                return None
            configuration = target.configuration
            url = outbox.callback_url(configuration) or claimed.url
            body = claimed.body.encode()
            outcome = await self.sender.post(
                url, body, self._headers(target, claimed.notification_id, body, started)
            )
        except Exception as error:
            log.error(
                "delivery %s (%s) of instance %s could not be sent: %s",
                claimed.id,
                claimed.notification_id,
                claimed.instance_id,
                _describe(error),
                exc_info=not isinstance(error, HeadwaterError),
            )
            outcome = sender.Outcome(
                status=None,
                latency_ms=max(0.0, (self.clock() - started).total_seconds() * 1000),
                error=f"not sent: {_describe(error)}",
            )
        attempt = _attempt(started, outcome)
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
                _describe(error),
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

        async def write(conn: AsyncConnection) -> tuple[Result, list[int] | None, str | None]:
            # giving up changes the instance row (its subscription); anything else only the
            # rows beneath it
            await instances.lock(conn, claimed.instance_id, change=isinstance(step, retry.GiveUp))
            held = await delivery_claims.record_attempt(
                conn, claimed.id, owner=self.owner, attempt=attempt
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
        return result

    async def send_test(self, *, organization_id: int, instance_id: int) -> int:
        """Send a signed test notification now, outside the instance's queue; the delivery id.

        The test does not count against the subscription: a failure neither retries nor queues.
        """
        async with db.reading(self.engine) as conn:
            target = await deliveries.sending(conn, instance_id, organization_id=organization_id)
        if target is None:
            raise NotFoundError(f"No instance with id {instance_id}.")
        url = target.configuration.get(outbox.CALLBACK_KEY)
        if not isinstance(url, str) or not url.strip():
            raise ConflictError(
                f"Instance {instance_id} has no event.notification.callback.url to send a test to."
            )
        notification_id = outbox.new_notification_id()
        started = self.clock()
        text = outbox.test_body(
            notification_id=notification_id,
            instance_id=instance_id,
            element_key=target.element_key,
            now=started,
        )
        body = text.encode()
        outcome = await self.sender.post(
            url.strip(), body, self._headers(target, notification_id, body, started)
        )
        attempt = _attempt(started, outcome)
        metrics.DELIVERY_ATTEMPT_SECONDS.observe(outcome.latency_ms / 1000)
        status = deliveries.DELIVERED if outcome.ok else deliveries.FAILED
        store = functools.partial(
            deliveries.insert_finished,
            notification_id=notification_id,
            instance_id=instance_id,
            kind="test",
            url=url.strip(),
            body=text,
            status=status,
            attempt=attempt,
            error=attempt.error,
        )
        return await db.write(self.engine, store)

    async def release(self, *, organization_id: int, where: str | None) -> list[int]:
        """Re-queue the organization's ``queued`` deliveries matching ``where`` (all when None)
        as ``created``, in order, and reactivate their instances' subscriptions."""
        clauses = delivery_log.translate(ceql.parse(where)) if where else []
        now = self.clock()

        async def release(conn: AsyncConnection) -> list[int]:
            ids = await delivery_log.ids_matching(
                conn, organization_id=organization_id, where=clauses, status=deliveries.QUEUED
            )
            return await deliveries.release(conn, ids, now=now)

        released = await db.write(self.engine, release)
        if released:
            log.info("released %d queued delivery(ies): %s", len(released), released)
        return released

    async def replay(
        self,
        *,
        organization_id: int,
        instance_id: int,
        start: dt.datetime,
        end: dt.datetime,
        where: str | None,
    ) -> Replayed:
        """Send the instance's stored events dated in [``start``, ``end``) (and matching
        ``where``) again, as new notifications behind those already queued."""
        clauses = events.translate(ceql.parse(where)) if where else []
        now = self.clock()

        async def write(conn: AsyncConnection) -> Replayed:
            owned = await deliveries.sending(conn, instance_id, organization_id=organization_id)
            target = await deliveries.target(conn, instance_id)
            if owned is None or target is None:
                raise NotFoundError(f"No instance with id {instance_id}.")
            url = target.configuration.get(outbox.CALLBACK_KEY)
            if not isinstance(url, str) or not url.strip():
                raise ConflictError(
                    f"Instance {instance_id} has no event.notification.callback.url to send to."
                )
            rows = await deliveries.events_between(
                conn, instance_id, start=start, end=end, where=clauses, limit=MAX_REPLAY + 1
            )
            if len(rows) > MAX_REPLAY:
                raise InputError(
                    problems=[
                        (
                            "to",
                            f"the range holds more than {MAX_REPLAY} events; replay less at once",
                        )
                    ]
                )
            created = await outbox.write(
                conn,
                instance_id=instance_id,
                target=target,
                url=url.strip(),
                events=[outbox.Event.from_row(row) for row in rows],
                kind="replay",
                link=False,
                now=now,
            )
            return Replayed(event_count=len(rows), delivery_ids=created)

        return await db.write(self.engine, write)

    async def page(
        self, *, organization_id: int, where: str | None, before_id: int | None, limit: int
    ) -> list[View]:
        """The organization's deliveries matching ``where``, newest first, with their attempts."""
        clauses = delivery_log.translate(ceql.parse(where)) if where else []
        async with db.reading(self.engine) as conn:
            rows = await delivery_log.page(
                conn,
                organization_id=organization_id,
                where=clauses,
                before_id=before_id,
                limit=limit,
            )
            tried = await delivery_log.attempts_of(conn, [row.id for row in rows])
        return [View(row=row, attempts=tried[row.id]) for row in rows]

    async def views(self, delivery_ids: Sequence[int]) -> list[View]:
        """The deliveries ``delivery_ids`` with their attempts, in id order."""
        async with db.reading(self.engine) as conn:
            rows = await delivery_log.by_ids(conn, delivery_ids)
            tried = await delivery_log.attempts_of(conn, [row.id for row in rows])
        return [View(row=row, attempts=tried[row.id]) for row in rows]

    def _headers(
        self, target: deliveries.Sending, notification_id: str, body: bytes, now: dt.datetime
    ) -> dict[str, str]:
        key = self.box.open(target.sealed_secrets).get(outbox.SIGNATURE_KEY)
        if not isinstance(key, str) or not key:
            return {"Elements-Webhook-Id": notification_id, "webhook-id": notification_id}
        return signing.headers(key, notification_id, int(now.timestamp()), body)


def _describe(error: BaseException) -> str:
    if isinstance(error, HeadwaterError):
        return error.message
    return f"internal error: {type(error).__name__}: {error}"


def _attempt(started: dt.datetime, outcome: sender.Outcome) -> deliveries.Attempt:
    return deliveries.Attempt(
        date=started,
        status_code=outcome.status,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        response=outcome.excerpt,
    )
