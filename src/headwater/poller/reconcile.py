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

import datetime as dt
import logging
import urllib.parse
from collections.abc import Mapping, Sequence

from headwater import errors, metrics
from headwater.domain import changes, dates, records, schedule, variables
from headwater.domain import recording as domain_recording
from headwater.elements import base
from headwater.poller import context, fanout, recording
from headwater.storage import db, poller_outcomes, pollers

log = logging.getLogger(__name__)

PAGE_SIZE = 1000


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

    # the claim's snapshot, not the row now: a reconciliation asked for while this one ran must
    # not make this first one forget to learn the ids it listed
    first = claimed.next_reconcile_at is None
    problems: list[str] = []

    def decide(known: Mapping[str, changes.Known], row: pollers.Poller) -> recording.Decision:
        problem = domain_recording.listing_problem(listing, known)
        if problem is None:
            plan = domain_recording.after_listing(
                listing, known, first=first, id_field=resource.id_field
            )
            next_check = started + dt.timedelta(seconds=ctx.reconcile_seconds)
            return recording.Decision(plan, poller_outcomes.Finish(next_reconcile_at=next_check))
        problems.append(problem)
        retry_at = schedule.reconcile_retry(
            started,
            due_since=claimed.next_reconcile_at,
            retry_seconds=deps.settings.reconcile_retry_seconds,
            interval_seconds=ctx.interval_seconds,
        )
        planned = row.next_run_at
        finish = poller_outcomes.Finish(
            next_run_at=retry_at if planned is None or retry_at < planned else planned,
            last_error=f"deletes not reconciled: {problem}",
        )
        plan = domain_recording.after_refused_listing(listing, known, first=first)
        return recording.Decision(plan, finish)

    recorded = await recording.record(
        deps.engine,
        claimed,
        element_key=ctx.instance.element_key,
        hub_key=ctx.hub_key,
        poll_date=started,
        object_ids=None,
        decide=decide,
    )
    if problems:
        metrics.RECONCILIATIONS.labels("refused").inc()
        plog.warning("deletes not reconciled: %s", problems[-1])
        return 0
    event_ids = recorded.event_ids
    metrics.RECONCILIATIONS.labels("ok").inc()
    metrics.EVENTS_FOUND.labels("DELETED").inc(len(event_ids))
    plog.info("reconciled %d id(s): %d deleted", len(listing.ids), len(event_ids))
    return len(event_ids)


async def list_ids(hub: base.Hub, url: str, id_field: str) -> domain_recording.Listing:
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
        return domain_recording.Listing(
            frozenset(ids), f"the pages of {shifted[0]} shifted while it was listed"
        )
    after = await _sizes(hub, targets)
    for target_url, size in before.items():
        listed = counts.get(target_url, 0)
        if after.get(target_url) != size or listed != size:
            return domain_recording.Listing(
                frozenset(ids),
                f"{target_url} listed {listed} id(s) but its collection counted {size} before "
                f"and {after.get(target_url)} after",
            )
    confirmed = bool(targets) and all(target.url in before for target in targets)
    return domain_recording.Listing(frozenset(ids), confirmed=confirmed)


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
