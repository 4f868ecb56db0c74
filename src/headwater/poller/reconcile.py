"""Deletes, by reconciliation: an ids-only listing compared with the records a poller knows.

Every ``reconcile_interval`` (default hourly) after a poll, the resource is listed with its date
filter removed and only the id field asked for. Each record the poller knows and has not seen
deleted, that is missing from the listing, gets a DELETED event. The first reconciliation also
remembers the ids listed (the *baseline*), so that records that existed before the poller started
are reported when they are deleted.

Nothing is deleted on doubt: a listing that failed, whose pages shifted, whose count differs from
the size its parent collection reports (before or after listing), or that is empty while records
are known and no collection size confirms it, is refused, and the poller runs again after
``HEADWATER_RECONCILE_RETRY_SECONDS`` (longer while refusals go on, never later than its next
regular run). A refused first reconciliation still remembers every id it listed (each was there
when listed), and stays the first one until a listing is trusted: a record deleted before then
is reported DELETED all the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import urllib.parse
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from headwater import errors, metrics
from headwater.delivery import outbox
from headwater.domain import dates, schedule, variables
from headwater.elements import base
from headwater.poller import context, detect, fanout, records
from headwater.storage import db, events, instances, pollers, versions

log = logging.getLogger(__name__)

PAGE_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class Listing:
    """The ids listed, or why the listing cannot be trusted."""

    # with a problem, the ids listed all the same: each was there, but others may be missing
    ids: frozenset[str]
    problem: str | None = None
    confirmed: bool = False  # every target's count matched the size its collection reports


def ids_url(url: str, id_field: str) -> str:
    """The resource URL without its ``where``, asking for the id field only."""
    split = urllib.parse.urlsplit(url)
    query = [
        (name, value)
        for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        if name not in ("where", "fields")
    ]
    query.append(("fields", id_field.split(".")[0]))
    encoded = urllib.parse.urlencode(query, safe="{}$:'")
    return urllib.parse.urlunsplit((split.scheme, split.netloc, split.path, encoded, ""))


def raw_of(id_field: str, object_id: str) -> dict[str, object]:
    """The raw record of a DELETED event: the id at its path."""
    raw: dict[str, object] = {}
    current = raw
    *parents, leaf = id_field.split(".")
    for name in parents:
        child: dict[str, object] = {}
        current[name] = child
        current = child
    current[leaf] = object_id
    return raw


async def run(deps: context.Deps, claimed: pollers.Claimed, *, poll_id: str) -> int:
    """Reconcile the claimed poller now and release its lease; returns the deletes found."""
    plog = context.poll_log(log, claimed, poll_id)
    started = dt.datetime.now(dt.UTC)
    ctx = await context.load(deps, claimed)
    if ctx is None:
        await db.write(
            deps.engine,
            lambda conn: pollers.release(conn, [claimed.id], owner=claimed.lease_owner),
        )
        return 0
    resource = ctx.resource
    hub = context.hub(deps, ctx.instance)
    cursor = dates.from_ms(claimed.cursor_ms if claimed.cursor_ms is not None else 0)
    url = ids_url(variables.expand(resource.url, cursor), resource.id_field)
    listing = await list_ids(hub, url, resource.id_field)

    async def commit(conn: AsyncConnection) -> tuple[str | None, list[int], list[str]]:
        await instances.lock(conn, claimed.instance_id)
        row = await pollers.hold(conn, claimed.id, owner=claimed.lease_owner)
        if row is None:
            raise context.LeaseLost()
        known = await versions.versions(conn, claimed.id)
        live = {object_id for object_id, version in known.items() if not version.deleted}
        problem = listing.problem
        if problem is None and not listing.ids and live and not listing.confirmed:
            problem = f"the listing is empty while {len(live)} record(s) are known"
        if problem is not None:
            if claimed.next_reconcile_at is None:
                await versions.remember(conn, claimed.id, _baseline(listing.ids, known))
            retry_at = schedule.reconcile_retry(
                started,
                due_since=claimed.next_reconcile_at,
                retry_seconds=deps.settings.reconcile_retry_seconds,
                interval_seconds=ctx.interval_seconds,
            )
            planned = row.next_run_at
            await pollers.finish(
                conn,
                claimed.id,
                owner=claimed.lease_owner,
                now=dt.datetime.now(dt.UTC),
                next_run_at=retry_at if planned is None or retry_at < planned else planned,
                last_error=f"deletes not reconciled: {problem}",
            )
            return problem, [], []
        vanished = sorted(live - listing.ids)
        remembered: dict[str, versions.Version] = {
            object_id: dataclasses.replace(known[object_id], deleted=True) for object_id in vanished
        }
        # the claim's snapshot, not the row now: a reconciliation asked for while this one ran
        # must not make this first one forget to learn the ids it listed
        if claimed.next_reconcile_at is None:
            remembered.update(_baseline(listing.ids, known))
        event_ids = await events.insert(
            conn,
            instance_id=claimed.instance_id,
            element_key=ctx.instance.element_key,
            hub_key=ctx.hub_key,
            poll_date=started,
            found=[
                events.NewEvent(
                    object_type=claimed.resource,
                    object_id=object_id,
                    event_type="DELETED",
                    date=started,
                    raw=raw_of(resource.id_field, object_id),
                )
                for object_id in vanished
            ],
        )
        await versions.remember(conn, claimed.id, remembered)
        if event_ids:
            await outbox.enqueue(
                conn, instance_id=claimed.instance_id, event_ids=event_ids, now=started
            )
        await pollers.finish(
            conn,
            claimed.id,
            owner=claimed.lease_owner,
            now=dt.datetime.now(dt.UTC),
            next_reconcile_at=started + dt.timedelta(seconds=ctx.reconcile_seconds),
        )
        return None, event_ids, vanished

    problem, event_ids, vanished = await db.write(deps.engine, commit)
    if problem is not None:
        metrics.RECONCILIATIONS.labels("refused").inc()
        plog.warning("deletes not reconciled: %s", problem)
        return 0
    metrics.RECONCILIATIONS.labels("ok").inc()
    metrics.EVENTS_FOUND.labels("DELETED").inc(len(event_ids))
    plog.info("reconciled %d id(s): %d deleted", len(listing.ids), len(vanished))
    return len(event_ids)


def _baseline(
    listed: frozenset[str], known: dict[str, versions.Version]
) -> dict[str, versions.Version]:
    return {
        object_id: versions.Version(None, detect.LISTED_ONLY)
        for object_id in listed
        if object_id not in known
    }


async def list_ids(hub: base.Hub, url: str, id_field: str) -> Listing:
    """Every id of an ids-only listing, checked against the sizes its parent collection reports.

    Provider failures propagate; a listing that shifted or looks truncated comes back with its
    ``problem`` and the ids it listed all the same (pages that shifted are read on, every target
    is listed).
    """
    targets = await fanout.targets(hub, url)
    before = await _sizes(hub, targets)
    ids: set[str] = set()
    counts: dict[str, int] = {}
    shifted: list[str] = []
    for target in targets:
        found, moved = await _target_ids(hub, target.url, id_field)
        ids.update(found)
        counts[target.url] = len(found)
        if moved:
            shifted.append(target.url)
    if shifted:
        return Listing(frozenset(ids), f"the pages of {shifted[0]} shifted while it was listed")
    after = await _sizes(hub, targets)
    for target_url, size in before.items():
        listed = counts.get(target_url, 0)
        if after.get(target_url) != size or listed != size:
            return Listing(
                frozenset(ids),
                f"{target_url} listed {listed} id(s) but its collection counted {size} before "
                f"and {after.get(target_url)} after",
            )
    confirmed = bool(targets) and all(target.url in before for target in targets)
    return Listing(frozenset(ids), confirmed=confirmed)


async def _target_ids(hub: base.Hub, url: str, id_field: str) -> tuple[list[str], bool]:
    """The ids listed, and whether the pages shifted (then read on, past the shift)."""
    found: list[str] = []
    shifted = False
    token: str | None = None
    number = 0
    while True:
        number += 1
        try:
            page = await hub.fetch(url, page_size=PAGE_SIZE, page_token=token, read_past_shift=True)
        except base.PagesShifted as shift:
            shifted, page = True, shift.page
        except errors.ConflictError:
            return found, True
        for index, record in enumerate(page.records, start=1):
            where = f"record {index} of page {number} of {url}"
            found.append(records.read_id(record, id_field, where=where))
        token = page.next_token
        if token is None:
            return found, shifted


async def _sizes(hub: base.Hub, targets: Sequence[fanout.Target]) -> dict[str, int]:
    """The size each target's parent collection reports for it, by target URL; -1 when the
    item is gone from its collection. Targets of collections that report no size are left out."""
    by_collection: dict[str, list[fanout.Target]] = {}
    for target in targets:
        if target.collection is not None:
            by_collection.setdefault(target.collection, []).append(target)
    sizes: dict[str, int] = {}
    for path, members in by_collection.items():
        try:
            items = await fanout.collection(hub, path)
        except (errors.NotFoundError, errors.InputError):
            continue  # not a collection the hub lists
        by_id = {str(item.get("id")): item for item in items}
        for target in members:
            item = by_id.get(str(target.item_id))
            size = None if item is None else hub.child_count(path, item)
            if item is None:
                sizes[target.url] = -1
            elif size is not None:
                sizes[target.url] = size
    return sizes
