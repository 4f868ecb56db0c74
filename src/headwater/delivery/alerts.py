"""The alert watch: observes the conditions operators are told about and turns each change of
one into a transition, told exactly once.

Every worker runs :meth:`AlertWatch.check` every ``HEADWATER_ALERT_CHECK_SECONDS``. It reads
what holds now (pollers that disabled themselves, invalid instances, deactivated subscriptions,
instances whose oldest undelivered notification is older than ``HEADWATER_ALERT_BACKLOG_SECONDS``)
and the alerts firing, and writes each transition in a transaction of its own with one
conditional statement (:mod:`headwater.storage.alerts`): whichever worker's statement changes
the row writes the operations notification in the same transaction, logs the one line and counts
the metric; the others change nothing and say nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater import logs, metrics
from headwater.delivery import operations, outbox
from headwater.domain import alerts as rules
from headwater.domain import dates
from headwater.settings import Settings
from headwater.storage import alerts, db, deliveries, instances
from headwater.storage import operations as endpoints

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AlertWatch:
    """Decides and tells the transitions of every instance's watched conditions."""

    def __init__(
        self, *, settings: Settings, engine: AsyncEngine, clock: Callable[[], dt.datetime] = _now
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock

    async def check(self) -> list[rules.Transition]:
        """Observe every condition once; the transitions this process won, in order."""
        now = self.clock()
        threshold = self.settings.alert_backlog_seconds
        async with db.reading(self.engine) as conn:
            firing = await alerts.firing(conn)
            observed = [
                *((rules.POLLER, o) for o in await alerts.disabled_pollers(conn)),
                *((rules.INSTANCE, o) for o in await alerts.invalid_instances(conn)),
                *((rules.SUBSCRIPTION, o) for o in await alerts.inactive_subscriptions(conn)),
            ]
            late = await alerts.oldest_undelivered(
                conn, before=now - dt.timedelta(seconds=threshold)
            )
            held = {(f.instance_id, f.subject) for f in firing}
            polled = [rules.condition_of(f.subject)[1] for f in firing]
            runs = await alerts.poller_runs(conn, [p for p in polled if p is not None])
            cleared = [
                f.instance_id
                for f in firing
                if f.subject == rules.BACKLOG.name and f.instance_id not in late
            ]
            oldest = await alerts.oldest_undelivered(conn, instance_ids=cleared, before=None)
        started = _started(observed, late, held, now, threshold)
        ended: list[tuple[int, rules.Transition]] = []
        gone: list[int] = []
        bad = {(c.name, o.instance_id) for c, o in observed if c is not rules.POLLER}
        for alert in firing:
            condition, poller_id = rules.condition_of(alert.subject)
            run = runs.get(poller_id) if poller_id is not None else None
            if condition is rules.POLLER and run is None:
                gone.append(alert.id)
                continue
            why = _recovered(alert, condition, run, bad, late, oldest, now, threshold)
            if why is not None:
                transition = rules.Transition(
                    condition,
                    False,
                    alert.organization_id,
                    alert.instance_id,
                    why,
                    now,
                    poller_id,
                    run.resource if run is not None else None,
                )
                ended.append((alert.id, transition))
        won: list[rules.Transition] = []
        for transition in started:
            if await db.write(self.engine, functools.partial(self._write, transition, None)):
                won.append(transition)
        for alert_id, transition in ended:
            if await db.write(self.engine, functools.partial(self._write, transition, alert_id)):
                won.append(transition)
        if gone:
            await db.write(self.engine, functools.partial(_forget, gone))
        for transition in won:
            _tell(transition)
        return won

    async def firing_counts(self) -> dict[str, int]:
        """How many alerts fire, by condition."""
        async with db.reading(self.engine) as conn:
            return await alerts.firing_counts(conn)

    async def _write(
        self, transition: rules.Transition, alert_id: int | None, conn: AsyncConnection
    ) -> bool:
        # the instance first (the lock order of storage.db): rows beneath it are written
        if not await instances.lock(conn, transition.instance_id):
            return False
        if alert_id is None:
            changed = await alerts.fire(
                conn,
                instance_id=transition.instance_id,
                subject=transition.subject,
                reason=transition.reason,
                now=transition.at,
            )
        else:
            changed = await alerts.recover(
                conn, alert_id, reason=transition.reason, now=transition.at
            )
        if changed:
            endpoint = await endpoints.get(conn, transition.organization_id)
            if endpoint is not None:
                notification_id = outbox.new_notification_id()
                await deliveries.insert(
                    conn,
                    notification_id=notification_id,
                    instance_id=transition.instance_id,
                    kind=operations.KIND,
                    url=endpoint.url,
                    body=rules.body(notification_id, transition),
                    status=deliveries.CREATED,
                    now=transition.at,
                )
        return changed


def _started(
    observed: list[tuple[rules.Condition, alerts.Observed]],
    late: dict[int, tuple[int, dt.datetime]],
    held: set[tuple[int, str]],
    now: dt.datetime,
    threshold: float,
) -> list[rules.Transition]:
    """The conditions that hold and are not firing yet."""
    started: list[rules.Transition] = []
    for condition, seen in observed:
        transition = rules.Transition(
            condition,
            True,
            seen.organization_id,
            seen.instance_id,
            seen.reason,
            now,
            seen.poller_id,
            seen.resource,
        )
        if (seen.instance_id, transition.subject) not in held:
            started.append(transition)
    for instance_id, (organization_id, first) in sorted(late.items()):
        if (instance_id, rules.BACKLOG.name) not in held:
            reason = rules.backlog_reason(first, now, threshold)
            started.append(
                rules.Transition(rules.BACKLOG, True, organization_id, instance_id, reason, now)
            )
    return started


def _recovered(
    alert: alerts.Firing,
    condition: rules.Condition,
    run: alerts.PollerRun | None,
    bad: set[tuple[str, int]],
    late: dict[int, tuple[int, dt.datetime]],
    oldest: dict[int, tuple[int, dt.datetime]],
    now: dt.datetime,
    threshold: float,
) -> str | None:
    """Why a firing alert's condition ended, or None while it holds."""
    if condition is rules.POLLER:
        # resumed is not enough: it recovers when it has run again without error
        if (
            run is not None
            and run.enabled
            and run.consecutive_failures == 0
            and run.last_run_at is not None
            and run.last_run_at >= alert.since
        ):
            return f"the poller ran again without error at {dates.iso(run.last_run_at)}"
        return None
    if condition is rules.BACKLOG:
        if alert.instance_id in late:
            return None
        first = oldest.get(alert.instance_id)
        return rules.backlog_reason(first[1] if first else None, now, threshold)
    if (condition.name, alert.instance_id) in bad:
        return None
    if condition is rules.INSTANCE:
        return "the instance was re-authenticated and is valid again"
    return "the subscription was reactivated: its queued notifications were released"


async def _forget(alert_ids: list[int], conn: AsyncConnection) -> None:
    for alert_id in alert_ids:
        await alerts.forget(conn, alert_id)


def _tell(transition: rules.Transition) -> None:
    metrics.ALERTS.labels(type=transition.type).inc()
    ids: dict[str, object] = {"instance_id": transition.instance_id}
    if transition.poller_id is not None:
        ids["poller_id"] = transition.poller_id
    about = f"instance {transition.instance_id}"
    if transition.resource is not None:
        about += f", poller {transition.resource!r}"
    with logs.bound(**ids):
        log.log(
            logging.WARNING if transition.firing else logging.INFO,
            "alert %s (%s): %s",
            transition.type,
            about,
            transition.reason,
        )
