"""Where a provider's ``modafter`` excludes its bound (as the Act-On sandbox's does by default):
the poll window's first millisecond.

A poll keeps every record dated at or after its window start; the cursor moves to the newest
date seen minus the poll's duration. Were ``${epoch}`` the window start itself, a strict filter
would leave out a version stamped on that very millisecond, and nothing would reach back for it:

- with no overlap, when the provider's clock moved on while a poll paged, the cursor can stand on
  the very millisecond the poll began, and a change made then behind the pages already read;
- a record changed on the poller's start millisecond, whatever the overlap (no window reaches
  before the start).

So a poll asks from one millisecond before its window (``cursors.query_from``); both are reported
with strict and with inclusive filters.
"""

from __future__ import annotations

import pytest

from headwater.elements import memory
from tests import memory_poller


def _hub(inclusive: bool) -> tuple[memory.MemoryHub, memory.Store, str]:
    store = memory.Store(memory_poller.LAYOUT)
    return memory.MemoryHub(store, inclusive_bounds=inclusive), store, store.add_parent()


def _last_reported(poller: memory_poller.Poller, record_id: str) -> object:
    return [e.raw.get("Job Title") for e in poller.events if e.object_id == record_id][-1]


@pytest.mark.parametrize(
    ("overlap", "inclusive"),
    [(0.0, False), (0.0, True), (60.0, False)],
)
async def test_a_change_made_as_a_poll_began_is_reported_when_the_clock_moved_meanwhile(
    overlap: float, inclusive: bool
) -> None:
    hub, store, list_id = _hub(inclusive)
    poller = memory_poller.Poller.configured(store.clock.now_ms(), overlap)
    store.clock.advance(1000)
    made = [store.insert(list_id, {"Job Title": "new"}) for _ in range(4)]
    await memory_poller.run(hub, poller, reconcile=True)
    store.clock.advance(5)
    began = store.clock.now_ms()

    def while_paging() -> None:
        store.update(made[0], {"Job Title": "as the poll began"})  # on the page already read
        store.clock.advance(1)
        store.update(made[2], {"Job Title": "a millisecond later"})  # on the next page

    hub.after_fetches(list_id, 1, while_paging)
    await memory_poller.run(hub, poller, reconcile=False)
    # the cursor stands on the millisecond the poll began: high water (began + 1) minus 1 ms
    assert poller.cursor_ms == began
    await memory_poller.run(hub, poller, reconcile=False)  # nothing disturbs this one
    assert _last_reported(poller, made[2]) == "a millisecond later"
    assert _last_reported(poller, made[0]) == "as the poll began"


@pytest.mark.parametrize(
    ("overlap", "inclusive"),
    [
        (60.0, False),
        (0.0, False),
        (0.0, True),
        (60.0, True),
    ],
)
async def test_a_record_changed_at_the_pollers_start_is_reported(
    overlap: float, inclusive: bool
) -> None:
    hub, store, list_id = _hub(inclusive)
    poller = memory_poller.Poller.configured(store.clock.now_ms(), overlap)
    at_start = store.insert(list_id, {"Job Title": "at the start"}, at_ms=poller.start_ms)
    store.clock.advance(1000)
    await memory_poller.run(hub, poller, reconcile=True)
    assert [(e.object_id, e.event_type) for e in poller.events] == [(at_start, "CREATED")]
