"""The edges of a poller's life, against the sandbox: where it starts, a first reconciliation
that is refused, and a poll whose pages shift twice."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.poller_support import poller_row, run_poller, stored_events

# seeded two hours back: no seeded change falls into a poll's window unless a test makes one
PAST = int(time.time() * 1000) - 2 * 3600 * 1000
SECOND_MS = 1000
pytestmark = pytest.mark.api(element_settings=FAST_ACTON)


@pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5)
async def test_a_poller_starts_one_overlap_before_its_creation(api: RunningApi) -> None:
    state = api.sandbox.state
    state.clock.reset()
    store = state.store
    now = state.clock.now_ms()
    # created inside the overlap before the instance exists: new to the poller, so CREATED
    fresh = store.insert("l-0001", {"First Name": "Fresh"}, at_ms=now - 30 * SECOND_MS)
    edited = store.insert("l-0001", {"First Name": "Edited"}, at_ms=now - 40 * SECOND_MS)
    store.update("l-0001", edited, {"Job Title": "CTO"}, at_ms=now - 20 * SECOND_MS)
    # created before the start and changed after it: UPDATED, even within createdCheckTolerance
    early = store.insert("l-0001", {"First Name": "Early"}, at_ms=now - 75 * SECOND_MS)
    store.update("l-0001", early, {"Job Title": "CFO"}, at_ms=now - 55 * SECOND_MS)
    store.update("l-0001", "l-0001:1", {"Job Title": "COO"}, at_ms=now - 30 * SECOND_MS)
    # changed before the start, though within pollDelay + overlap: never read
    store.update("l-0001", "l-0001:2", {"Job Title": "CIO"}, at_ms=now - 80 * SECOND_MS)

    config = {
        "contacts": {
            "url": "/hubs/marketing/lists/l-0001/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
            "datesConfiguration": {
                "updatedDateField": "__modified_date",
                "updatedDateFormat": "milliseconds",
                "createdDateField": "__created_date",
                "createdDateFormat": "milliseconds",
            },
            "pollDelay": 30,
            "createdCheckTolerance": 30,
        }
    }
    auth = await api.create_user()
    instance = await api.create_instance({"event.poller.configuration": config}, auth=auth)
    iid = instance["id"]
    first = await run_poller(api.container, iid)
    assert first.status == "ok", first
    found = {(e.object_id, e.event_type) for e in await stored_events(api.container, iid)}
    assert found == {
        (fresh, "CREATED"),
        (edited, "CREATED"),
        (early, "UPDATED"),
        ("l-0001:1", "UPDATED"),
    }

    state.batch([{"op": "touch", "id": "l-0001:3"}])
    second = await run_poller(api.container, iid)
    after = [(e.object_id, e.event_type) for e in await stored_events(api.container, iid)][4:]
    assert after == [("l-0001:3", "UPDATED")], "a later poll does not reach before the start"
    assert second.events == 1

    created_ms = int(dt.datetime.fromisoformat(instance["createdDate"]).timestamp() * 1000)
    overlap_ms = int(api.container.settings.poll_overlap_seconds * 1000)
    row = await poller_row(api.container, iid)
    assert abs(row.start_ms - (created_ms - overlap_ms)) <= SECOND_MS, "one overlap before"


def _added_after_listing(api: RunningApi, downloads: int) -> Any:
    """A contact added right after the ``downloads``-th download of the list: an ids listing
    that download is counts one id less than the list holds after it, and is refused."""
    return api.sandbox.state.hooks.add(
        "l-0001", downloads, [{"op": "create", "list": "l-0001", "values": {"First Name": "Late"}}]
    )


@pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5)
async def test_a_refused_first_reconciliation_loses_no_delete(api: RunningApi) -> None:
    state = api.sandbox.state
    state.clock.reset()
    iid = (await api.create_instance())["id"]
    # the list's first download is the poll's, the second the first reconciliation's ids listing
    late = _added_after_listing(api, 2)
    first = await run_poller(api.container, iid)
    assert (first.status, first.events) == ("ok", 0), first
    assert late.applied, "the contact must land while the ids are listed"
    row = await poller_row(api.container, iid)
    assert row.last_error.startswith("deletes not reconciled"), row.last_error
    assert row.next_reconcile_at is None, "still the first reconciliation"
    state.hooks.clear()

    state.batch([{"op": "delete", "id": "l-0001:2"}])  # seeded before the poller started
    await run_poller(api.container, iid)
    found = [(e.object_id, e.event_type) for e in await stored_events(api.container, iid)]
    assert sorted(found) == sorted([(late.applied[0], "CREATED"), ("l-0001:2", "DELETED")])
    row = await poller_row(api.container, iid)
    assert row.last_error is None and row.next_reconcile_at is not None

    await run_poller(api.container, iid, reconcile=True)
    again = await stored_events(api.container, iid)
    assert len(again) == 2, "the delete is reported once"


@pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5)
async def test_a_refused_reconciliation_is_retried_in_seconds(api: RunningApi) -> None:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    iid = (await api.create_instance(auth=auth))["id"]  # polls every 15 minutes
    for asked in (False, True):  # the first reconciliation, then one asked for
        hook = _added_after_listing(api, 2)
        started = dt.datetime.now(dt.UTC)
        outcome = await run_poller(api.container, iid, reconcile=asked)
        assert outcome.status == "ok" and hook.applied, outcome
        row = await poller_row(api.container, iid)
        assert row.last_error.startswith("deletes not reconciled"), row.last_error
        # HEADWATER_RECONCILE_RETRY_SECONDS: 10 by default
        assert row.next_run_at <= started + dt.timedelta(seconds=30), "retried in seconds"
        api.sandbox.state.hooks.clear()
        retried = await run_poller(api.container, iid)
        assert retried.status == "ok", retried
        row = await poller_row(api.container, iid)
        assert row.last_error is None and row.next_reconcile_at is not None
        assert row.next_run_at >= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=14)


@pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=8)
async def test_a_poll_whose_pages_shift_twice_keeps_what_they_showed_and_reads_on(
    api: RunningApi,
) -> None:
    state = api.sandbox.state
    state.clock.reset()
    config = {
        "contacts": {
            "url": "/hubs/marketing/lists/l-0001/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
            "datesConfiguration": {
                "updatedDateField": "__modified_date",
                "updatedDateFormat": "milliseconds",
                "createdDateField": "__created_date",
                "createdDateFormat": "milliseconds",
            },
            "pageSize": 3,
        }
    }
    iid = (await api.create_instance({"event.poller.configuration": config}))["id"]
    state.batch([{"op": "touch", "id": f"l-0001:{n}"} for n in range(8)])
    seen = await run_poller(api.container, iid)
    assert (seen.status, seen.events) == ("ok", 8), seen
    state.batch([{"op": "update", "id": "l-0001:4", "values": {"Job Title": "w1"}}])
    marker = (await stored_events(api.container, iid))[-1].id

    # after the first page (0, 1, 2) a delete shifts the rows and contact 6 gets version "v1";
    # the poll reads again from the first page (1, 2, 3), after which two deletes before its end
    # shift the rows again, moving contact 4 up to where that page ended
    state.hooks.add(
        "l-0001",
        1,
        [
            {"op": "delete", "id": "l-0001:0"},
            {"op": "update", "id": "l-0001:6", "values": {"Job Title": "v1"}},
        ],
    )
    state.hooks.add(
        "l-0001", 3, [{"op": "delete", "id": "l-0001:1"}, {"op": "delete", "id": "l-0001:2"}]
    )
    before = await poller_row(api.container, iid)
    shifted = await run_poller(api.container, iid)
    assert shifted.status == "shifted" and shifted.rereads == 1, shifted
    after = await poller_row(api.container, iid)
    assert after.cursor_ms == before.cursor_ms, "a shifted poll keeps its cursor"
    state.hooks.clear()

    # "v1" and "w1" were current during that poll and are not after it
    state.batch(
        [
            {"op": "update", "id": "l-0001:6", "values": {"Job Title": "v2"}},
            {"op": "update", "id": "l-0001:4", "values": {"Job Title": "w2"}},
        ]
    )
    await run_poller(api.container, iid)
    found = [
        (e.object_id, e.event_type, e.raw["Job Title"])
        for e in await stored_events(api.container, iid, after_id=marker)
    ]
    assert sorted(found) == [
        ("l-0001:4", "UPDATED", "w1"),
        ("l-0001:4", "UPDATED", "w2"),
        ("l-0001:6", "UPDATED", "v1"),
        ("l-0001:6", "UPDATED", "v2"),
    ]
