"""The scheduler as ``serve`` runs it: pollers due every second poll on their own, and a changed
configuration takes effect at the next poll."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.sandbox_fixtures import Receiver

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
SECOND_IN_MINUTES = 1 / 60

pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=2, contacts=4),
    pytest.mark.api(loops=True, tick_seconds=0.05, element_settings=FAST_ACTON),
]


async def _until(check: Any, timeout: float = 15.0) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_pollers_run_on_their_own_and_changes_arrive(
    api: RunningApi, receiver: Receiver
) -> None:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    overrides = {
        "event.poller.refresh_interval": SECOND_IN_MINUTES,
        "event.notification.callback.url": receiver.url,
    }
    iid = (await api.create_instance(overrides, auth=auth))["id"]
    pollers_path = f"instances/{iid}/pollers"

    async def ran() -> bool:
        state = (await api.call("GET", pollers_path, auth=auth)).json[0]
        return state["lastRunDate"] is not None

    await _until(ran)  # the first run is immediate
    [contact] = api.sandbox.state.batch(
        [{"op": "create", "list": "l-0002", "values": {"First Name": "Radia"}}]
    )

    async def found() -> list[dict[str, Any]]:
        reply = await api.call("GET", f"instances/{iid}/events", auth=auth)
        return [e for e in reply.json if e["objectId"] == contact]

    [event] = await _until(found)
    assert event["eventType"] == "CREATED"
    await receiver.wait_for(lambda arrivals: any(contact in a["body"] for a in arrivals))

    metrics = await api.call("GET", "/metrics")
    assert metrics.status == 200
    assert 'headwater_polls_total{outcome="ok"}' in metrics.text
    assert "headwater_poll_lag_seconds_count" in metrics.text
    assert 'headwater_events_found_total{event_type="CREATED"}' in metrics.text


async def test_a_changed_configuration_takes_effect_at_the_next_poll(
    api: RunningApi, receiver: Receiver
) -> None:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    overrides = {"event.notification.callback.url": receiver.url}
    created = await api.create_instance(overrides, auth=auth)
    iid = created["id"]
    config = created["configuration"]["event.poller.configuration"]
    before = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json[0]

    config["contacts"]["pageSize"] = 50  # not part of the query: the cursor stays
    reply = await api.call(
        "PATCH",
        f"instances/{iid}",
        auth=auth,
        json={
            "configuration": {
                "event.poller.configuration": config,
                "event.poller.refresh_interval": SECOND_IN_MINUTES,
            }
        },
    )
    assert reply.status == 200, reply.text
    kept = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json[0]
    assert kept["cursor"] == before["cursor"]

    config["contacts"]["url"] = "/hubs/marketing/lists/l-0001/contacts?where=modafter='${epoch}'"
    config["accounts"] = config["contacts"] | {
        "url": config["contacts"]["url"].replace("l-0001", "l-0002")
    }
    reply = await api.call(
        "PATCH",
        f"instances/{iid}",
        auth=auth,
        json={"configuration": {"event.poller.configuration": config}},
    )
    assert reply.status == 200, reply.text
    states = {
        s["resource"]: s
        for s in (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
    }
    assert set(states) == {"contacts", "accounts"}

    api.sandbox.state.batch([{"op": "touch", "id": "l-0001:1"}, {"op": "touch", "id": "l-0002:1"}])

    async def both() -> list[tuple[str, str]]:
        reply = await api.call("GET", f"instances/{iid}/events", auth=auth)
        pairs = sorted((e["objectType"], e["objectId"]) for e in reply.json)
        return pairs if len(pairs) >= 2 else []

    assert await _until(both) == [("accounts", "l-0002:1"), ("contacts", "l-0001:1")]
