"""A polling instance against the sandbox: changes become events, listed by the API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.poller_support import poller_row, run_poller, stored_events

# seed the sandbox two hours back, so that no seeded change falls into a poll's overlap window
PAST = int(time.time() * 1000) - 2 * 3600 * 1000
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=2, contacts=8),
    pytest.mark.api(element_settings=FAST_ACTON),
]


def _reset_clock(api: RunningApi) -> None:
    api.sandbox.state.clock.reset()


async def test_changes_become_events_listed_newest_first(api: RunningApi) -> None:
    _reset_clock(api)
    auth = await api.create_user()
    instance = await api.create_instance(auth=auth)
    iid = instance["id"]

    reply = await api.call("GET", f"instances/{iid}/pollers", auth=auth)
    assert reply.status == 200, reply.text
    [state] = reply.json
    assert state["resource"] == "contacts"
    assert state["enabled"] is True
    assert state["cursor"].endswith("Z") and state["nextRunDate"] is not None
    assert state["lastRunDate"] is None and state["lastEventCount"] is None

    first = await run_poller(api.container, iid)
    assert (first.status, first.events) == ("ok", 0)

    sandbox = api.sandbox.state
    [created_id, updated_id] = sandbox.batch(
        [
            {"op": "create", "list": "l-0001", "values": {"First Name": "Grace"}},
            {"op": "update", "id": "l-0002:3", "values": {"Job Title": "CTO"}},
        ]
    )
    second = await run_poller(api.container, iid)
    assert (second.status, second.events) == ("ok", 2)
    found = {(e.object_id, e.event_type) for e in await stored_events(api.container, iid)}
    assert found == {(created_id, "CREATED"), (updated_id, "UPDATED")}

    again = await run_poller(api.container, iid)
    assert again.events == 0, "a change is reported once"

    reply = await api.call("GET", f"instances/{iid}/events", auth=auth)
    assert reply.status == 200, reply.text
    listed = reply.json
    assert [e["id"] for e in listed] == sorted((e["id"] for e in listed), reverse=True)
    event: dict[str, Any] = next(e for e in listed if e["eventType"] == "UPDATED")
    assert event["objectId"] == updated_id
    assert event["objectType"] == "contacts"
    assert (event["elementKey"], event["hubKey"], event["instanceId"]) == (
        "acton",
        "marketing",
        iid,
    )
    assert event["raw"]["Job Title"] == "CTO"
    assert event["status"] == "NEW"
    assert event["date"].endswith("Z") and event["pollDate"].endswith("Z")
    assert event["notificationId"] is None or event["notificationId"].startswith("msg_")

    one = await api.call("GET", f"instances/events/{event['id']}", auth=auth)
    assert one.status == 200 and one.json == event

    where = "eventType='CREATED' and objectType='contacts'"
    reply = await api.call("GET", f"instances/{iid}/events", auth=auth, params={"where": where})
    assert [e["objectId"] for e in reply.json] == [created_id]

    reply = await api.call("GET", "instances/events", auth=auth, params={"pageSize": 1})
    assert len(reply.json) == 1 and "Elements-Next-Page-Token" in reply.headers
    token = reply.headers["Elements-Next-Page-Token"]
    rest = await api.call(
        "GET", "instances/events", auth=auth, params={"pageSize": 1, "nextPage": token}
    )
    assert len(rest.json) == 1 and rest.json[0]["id"] < reply.json[0]["id"]

    scoped = await api.call("GET", "instances/events", auth=f"{auth}, Element {instance['token']}")
    assert scoped.status == 200 and {e["instanceId"] for e in scoped.json} == {iid}

    bad = await api.call("GET", "instances/events", auth=auth, params={"where": "color='red'"})
    assert bad.status == 400 and bad.json["errors"][0]["field"] == "where"

    other = await api.create_user("Other")
    assert (await api.call("GET", f"instances/events/{event['id']}", auth=other)).status == 404
    assert (await api.call("GET", f"instances/{iid}/events", auth=other)).status == 404

    state = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json[0]
    assert state["lastEventCount"] == 0 and state["consecutiveFailures"] == 0
    assert state["lastError"] is None and state["lastRunDate"] is not None


async def test_deletes_are_found_by_reconciliation(api: RunningApi) -> None:
    _reset_clock(api)
    auth = await api.create_user()
    iid = (await api.create_instance(auth=auth))["id"]
    await run_poller(api.container, iid)  # the first run also lists the ids there are
    row = await poller_row(api.container, iid)
    assert row.next_reconcile_at is not None

    api.sandbox.state.batch([{"op": "delete", "id": "l-0001:2"}])
    plain = await run_poller(api.container, iid)
    assert plain.events == 0, "deletes wait for the next reconciliation"

    reply = await api.call("POST", f"instances/{iid}/pollers/contacts/reconcile", auth=auth)
    assert reply.status == 202, reply.text
    await run_poller(api.container, iid)
    deleted = [e for e in await stored_events(api.container, iid) if e.event_type == "DELETED"]
    assert [(e.object_id, e.raw) for e in deleted] == [("l-0001:2", {"_contact_id_": "l-0001:2"})]

    await run_poller(api.container, iid, reconcile=True)
    again = [e for e in await stored_events(api.container, iid) if e.event_type == "DELETED"]
    assert len(again) == 1, "a delete is reported once"


async def test_a_concrete_list_id_polls_that_list_only(api: RunningApi) -> None:
    _reset_clock(api)
    auth = await api.create_user()
    config = {
        "contacts": {
            "url": "/hubs/marketing/lists/l-0002/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
            "datesConfiguration": {
                "updatedDateField": "__modified_date",
                "updatedDateFormat": "milliseconds",
            },
            "pageSize": 2,
        }
    }
    iid = (await api.create_instance({"event.poller.configuration": config}, auth=auth))["id"]
    await run_poller(api.container, iid)
    api.sandbox.state.batch(
        [{"op": "touch", "id": f"l-000{n}:{k}"} for n in (1, 2) for k in range(5)]
    )
    outcome = await run_poller(api.container, iid)
    assert outcome.events == 5
    ids = {e.object_id for e in await stored_events(api.container, iid)}
    assert ids == {f"l-0002:{k}" for k in range(5)}


async def test_run_pause_and_resume(api: RunningApi) -> None:
    auth = await api.create_user()
    iid = (await api.create_instance(auth=auth))["id"]
    base = f"instances/{iid}/pollers/contacts"
    paused = await api.call("DELETE", f"{base}/enabled", auth=auth)
    assert paused.status == 200 and paused.json["enabled"] is False
    assert paused.json["disabledReason"] == "paused" and paused.json["nextRunDate"] is None
    refused = await api.call("POST", f"{base}/run", auth=auth)
    assert refused.status == 409, refused.text
    resumed = await api.call("PUT", f"{base}/enabled", auth=auth)
    assert resumed.status == 200 and resumed.json["enabled"] is True
    ran = await api.call("POST", f"{base}/run", auth=auth)
    assert ran.status == 202 and ran.json["resource"] == "contacts"
    missing = await api.call("POST", f"instances/{iid}/pollers/nope/run", auth=auth)
    assert missing.status == 404
