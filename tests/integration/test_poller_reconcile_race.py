"""A reconcile asked for while the first one lists ids: that first one still learns them."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.delivery_support import eventually
from tests.poller_support import run_poller, stored_events

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
# long enough for the reconcile request to land while the ids listing waits on the sandbox
LISTING_DELAY = 1.0
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5),
    pytest.mark.api(element_settings=FAST_ACTON),
]


async def test_a_reconcile_requested_during_the_first_one_keeps_older_deletes_reported(
    api: RunningApi,
) -> None:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    iid = (await api.create_instance(auth=auth))["id"]
    # the list's first download is the poll's, the second the first reconciliation's ids listing
    slow = api.sandbox.state.faults.add(
        {"kind": "latency", "path": "/api/1/list/l-0001", "delay": LISTING_DELAY, "count": 2}
    )
    first = asyncio.create_task(run_poller(api.container, iid))

    async def listing_ids() -> bool:
        return slow.fired == 2

    await eventually(listing_ids, timeout=10, what="the first reconciliation's ids listing")
    requested = await api.call("POST", f"instances/{iid}/pollers/contacts/reconcile", auth=auth)
    assert requested.status == 202, requested.text
    assert not first.done(), "the reconcile request must land while the first one still lists"
    outcome = await asyncio.wait_for(first, 10)
    assert (outcome.status, outcome.events) == ("ok", 0), outcome

    api.sandbox.admin("DELETE", "/contacts/l-0001:2")  # seeded before the poller started
    await run_poller(api.container, iid, reconcile=True)
    deleted = [e for e in await stored_events(api.container, iid) if e.event_type == "DELETED"]
    assert [(e.object_id, e.raw) for e in deleted] == [("l-0001:2", {"_contact_id_": "l-0001:2"})]
