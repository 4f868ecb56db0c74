"""The poller over an in-memory hub, without storage: its own reading and deciding code
(``fanout``, ``harvest``, ``reconcile.list_ids``, ``domain.recording``, ``domain.cursors``) in
the order ``poller/service.py`` (``poll_once``, ``run_claimed``) and ``poller/reconcile.py``
(``run``) call it. Only the unit of work (``poller/recording.py``) is replaced: a plan's versions
are remembered in a dict and its events appended to a list, as that transaction would commit
them.
"""

from __future__ import annotations

import dataclasses
import math

from headwater.domain import changes, config, cursors, dates, variables
from headwater.domain import recording as domain_recording
from headwater.elements import memory
from headwater.poller import fanout, harvest, reconcile

LAYOUT = memory.Layout(
    id_field="_contact_id_", created_field="__created_date", modified_field="__modified_date"
)
RESOURCE = config.Resource(
    name="contacts",
    url="/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
    id_field="_contact_id_",
    updated_field="__modified_date",
    updated_format="milliseconds",
    created_field="__created_date",
    created_format="milliseconds",
    page_size=2,
)


@dataclasses.dataclass
class Poller:
    """What storage would hold for one poller: its row, its versions and its events."""

    start_ms: int
    cursor_ms: int
    overlap_seconds: float
    resource: config.Resource = RESOURCE
    known: dict[str, changes.Known] = dataclasses.field(default_factory=dict)
    reconciled: bool = False  # next_reconcile_at is set: the first reconciliation is done
    events: list[domain_recording.NewEvent] = dataclasses.field(default_factory=list)

    @classmethod
    def configured(cls, now_ms: int, overlap_seconds: float) -> Poller:
        """A poller configured at ``now_ms``: it starts one overlap back (storage.pollers.sync)."""
        start_ms = now_ms - math.ceil(overlap_seconds * 1000)
        return cls(start_ms, start_ms, overlap_seconds)

    def record(self, plan: domain_recording.Plan) -> None:
        self.known.update(plan.remember)
        self.events.extend(plan.events)


async def poll_once(hub: memory.MemoryHub, poller: Poller) -> harvest.Harvest:
    """Read the poller's window and record what changed; returns what the poll read."""
    resource = poller.resource
    clock = hub.store.clock
    began = clock.now_ms()
    cursor_ms = poller.cursor_ms
    start_ms = cursors.window_start(
        cursor_ms,
        poll_delay_seconds=resource.poll_delay,
        overlap_seconds=poller.overlap_seconds,
        start_ms=poller.start_ms,
    )
    url = variables.expand(resource.url, dates.from_ms(cursors.query_from(start_ms)))
    targets = await fanout.targets(hub, url)
    read = await harvest.read(hub, resource, targets, window_start_ms=start_ms, upper_ms=None)
    # poll_once measures its duration on the server's clock, 1 ms at least; the hub's clock is
    # the only one here: the time it moved while the poll paged (often none), 1 ms at least
    duration_ms = max(1, clock.now_ms() - began)
    new_cursor = cursors.advance(
        cursor_ms, high_water_ms=read.high_water_ms, duration_ms=duration_ms, shifted=read.shifted
    )
    known = {oid: poller.known[oid] for oid in read.seen if oid in poller.known}
    poller.record(
        domain_recording.after_poll(
            read.seen.values(),
            known,
            cursor=dates.from_ms(cursor_ms),
            tolerance_seconds=resource.created_check_tolerance,
            start=dates.from_ms(poller.start_ms),
        )
    )
    poller.cursor_ms = new_cursor
    return read


async def reconcile_once(hub: memory.MemoryHub, poller: Poller, *, cursor_ms: int) -> None:
    """List the ids and record the deletes, or the refusal (``cursor_ms``: the claim's)."""
    resource = poller.resource
    url = reconcile.ids_url(
        variables.expand(resource.url, dates.from_ms(cursor_ms)), resource.id_field
    )
    listing = await reconcile.list_ids(hub, url, resource.id_field)
    first = not poller.reconciled
    known = dict(poller.known)
    if domain_recording.listing_problem(listing, known) is None:
        plan = domain_recording.after_listing(
            listing, known, first=first, id_field=resource.id_field
        )
        poller.reconciled = True
    else:
        plan = domain_recording.after_refused_listing(listing, known, first=first)
    poller.record(plan)


async def run(hub: memory.MemoryHub, poller: Poller, *, reconcile: bool) -> harvest.Harvest:
    """A poll, then the reconciliation when one is asked for or none was ever trusted (as
    ``run_claimed`` does; the reconcile interval is taken never to pass)."""
    claimed_cursor = poller.cursor_ms
    due = reconcile or not poller.reconciled
    read = await poll_once(hub, poller)
    if domain_recording.reconcile_after("shifted" if read.shifted else "ok", due=due):
        await reconcile_once(hub, poller, cursor_ms=claimed_cursor)
    return read
