"""Polling one resource once, and running the pollers a worker claimed.

``poll_once`` reads the resource's window from the provider (no database lock held meanwhile),
then records its changes and the new cursor in one unit of work
(:mod:`headwater.poller.recording`). A crash anywhere before the commit leaves nothing behind:
the next poll reads the same window and finds the same changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import logging
import math
import random
import time
import uuid
from collections.abc import Mapping, Sequence

from headwater import errors, metrics, tracing
from headwater.domain import changes, cursors, dates, schedule, variables
from headwater.domain import recording as domain_recording
from headwater.poller import context, failures, fanout, harvest, reconcile, recording
from headwater.storage import db, poller_outcomes, pollers

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one poll (or reconciliation) did."""

    poller_id: int
    resource: str
    # ok | shifted | skipped | lease_lost, or the failure: rate_limited, unavailable, refused,
    # record_error, failed (the labels of headwater_polls_total)
    status: str
    events: int = 0
    error: str | None = None
    cursor_ms: int | None = None
    rereads: int = 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_poll_id() -> str:
    return "poll_" + uuid.uuid4().hex[:12]


async def poll_once(
    deps: context.Deps,
    claimed: pollers.Claimed,
    *,
    keep_lease: bool = False,
    poll_id: str | None = None,
) -> Outcome:
    """Poll the claimed resource once and commit what it found; raises on any failure.

    ``keep_lease`` keeps the lease after the commit (a reconciliation follows). Raises
    ``LeaseLost`` when another worker took the poller over, ``RecordError`` for an unreadable
    record, and the provider's ``errors.Provider*`` errors.
    """
    poll_id = poll_id or new_poll_id()
    attributes = {
        "headwater.instance_id": claimed.instance_id,
        "headwater.resource": claimed.resource,
        "headwater.poll_id": poll_id,
    }
    with tracing.span("headwater.poll", attributes=attributes):
        return await _poll(deps, claimed, keep_lease=keep_lease, poll_id=poll_id)


async def _poll(
    deps: context.Deps, claimed: pollers.Claimed, *, keep_lease: bool, poll_id: str
) -> Outcome:
    plog = context.poll_log(log, claimed, poll_id)
    started = _now()
    clock = time.monotonic()
    ctx = await context.load(deps, claimed)
    if ctx is None:
        await _release(deps, claimed)
        return Outcome(claimed.id, claimed.resource, "skipped")
    resource = ctx.resource
    cursor_ms = claimed.cursor_ms if claimed.cursor_ms is not None else dates.to_ms(started)
    start_ms = cursors.window_start(
        cursor_ms,
        poll_delay_seconds=resource.poll_delay,
        overlap_seconds=deps.settings.poll_overlap_seconds,
        start_ms=claimed.start_ms,
    )
    hub = context.hub(deps, ctx.instance)
    url = variables.expand(resource.url, dates.from_ms(cursors.query_from(start_ms)))
    targets = await fanout.targets(hub, url)
    read = await harvest.read(
        hub,
        resource,
        targets,
        window_start_ms=start_ms,
        upper_ms=dates.to_ms(started) if resource.filter_by_current_date else None,
    )
    duration_ms = max(1, math.ceil((time.monotonic() - clock) * 1000))
    new_cursor = cursors.advance(
        cursor_ms, high_water_ms=read.high_water_ms, duration_ms=duration_ms, shifted=read.shifted
    )
    planned = schedule.after_success(
        started, interval_seconds=ctx.interval_seconds, jitter=random.random()
    )

    def decide(
        known: Mapping[str, changes.Known], row: pollers.Poller | None
    ) -> recording.Decision:
        plan = domain_recording.after_poll(
            read.seen.values(),
            known,
            cursor=dates.from_ms(cursor_ms),
            tolerance_seconds=resource.created_check_tolerance,
            start=None if claimed.start_ms is None else dates.from_ms(claimed.start_ms),
        )
        finish = poller_outcomes.Finish(
            next_run_at=planned.run_at,
            release=not keep_lease,
            cursor_ms=new_cursor,
            last_run_at=started,
            last_error=None,
            consecutive_failures=0,
            last_event_count=len(plan.events),
        )
        return recording.Decision(plan, finish)

    if read.seen:
        recorded = await recording.record(
            deps.engine,
            claimed,
            element_key=ctx.instance.element_key,
            hub_key=ctx.hub_key,
            poll_date=started,
            object_ids=read.seen.keys(),
            decide=decide,
            trace=tracing.traceparent(),
        )
        event_ids = recorded.event_ids
        for event in recorded.decision.plan.events:
            metrics.EVENTS_FOUND.labels(event.event_type).inc()
    else:  # nothing read, nothing to compare: only the poller's outcome changes
        await recording.finish_only(deps.engine, claimed, decide({}, None).finish)
        event_ids = []
    status = "shifted" if read.shifted else "ok"
    plog.info(
        "polled %d page(s) of %d target(s) in %d ms (%d re-read): %d event(s), cursor %s -> %s%s",
        read.pages,
        len(targets),
        duration_ms,
        read.rereads,
        len(event_ids),
        dates.iso(dates.from_ms(cursor_ms)),
        dates.iso(dates.from_ms(new_cursor)),
        " (pages shifted; cursor kept)" if read.shifted else "",
        extra={"event_ids": list(event_ids)},
    )
    return Outcome(
        claimed.id, claimed.resource, status, len(event_ids), None, new_cursor, read.rereads
    )


async def _release(deps: context.Deps, claimed: pollers.Claimed) -> None:
    await db.write(
        deps.engine, lambda conn: pollers.release(conn, [claimed.id], owner=claimed.lease_owner)
    )


async def run_claimed(deps: context.Deps, claimed: Sequence[pollers.Claimed]) -> list[Outcome]:
    """Run pollers claimed together (one instance's), one after another, heartbeating their
    leases meanwhile; a reconciliation follows a poll when it is due. Never raises for a poll's
    failure: each outcome is recorded on its poller."""
    outcomes: list[Outcome] = []
    remaining = {c.id for c in claimed}
    beat = asyncio.create_task(_heartbeat(deps, claimed, remaining))
    try:
        for one in claimed:
            poll_id = new_poll_id()
            plog = context.poll_log(log, one, poll_id)
            started = _now()
            metrics.POLL_LAG.observe(max(0.0, (started - one.due_at).total_seconds()))
            clock = time.monotonic()
            due_reconcile = one.next_reconcile_at is None or one.next_reconcile_at <= started
            try:
                outcome = await poll_once(deps, one, keep_lease=due_reconcile, poll_id=poll_id)
                if domain_recording.reconcile_after(outcome.status, due=due_reconcile):
                    try:
                        await reconcile.run(deps, one, poll_id=poll_id)
                    except Exception:
                        metrics.RECONCILIATIONS.labels("failed").inc()
                        raise
            except Exception as error:  # every failure is recorded on the poller, none escapes
                status, message = await failures.handle(
                    deps, one, error, started=started, plog=plog
                )
                outcome = Outcome(one.id, one.resource, status, error=message)
            metrics.POLLS.labels(outcome.status).inc()
            metrics.POLL_DURATION.observe(time.monotonic() - clock)
            outcomes.append(outcome)
            remaining.discard(one.id)
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    return outcomes


async def _heartbeat(
    deps: context.Deps, claimed: Sequence[pollers.Claimed], remaining: set[int]
) -> None:
    """Extend the leases of the pollers still to finish, every third of the lease."""
    if not claimed:
        return
    owner = claimed[0].lease_owner
    lease = deps.settings.poll_lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        ids = sorted(remaining)
        if not ids:
            return
        until = _now() + dt.timedelta(seconds=lease)
        try:
            beat = functools.partial(pollers.heartbeat, poller_ids=ids, owner=owner, until=until)
            await db.write(deps.engine, beat)
        except errors.StorageError as error:
            log.warning("heartbeat of pollers %s failed: %s", ids, error.message)
        except Exception:  # the next beat tries again; the polls go on meanwhile
            log.exception("heartbeat of pollers %s crashed", ids)
