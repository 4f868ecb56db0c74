"""Act-On's webhooks end to end over loopback: the sandbox signs and sends them as Svix does,
Headwater verifies, routes and records them, and the receiver gets the notifications.

The delivery worker's tick is 30 s here: notifications arriving within seconds were sent because
the webhook woke the worker (in memory on SQLite, by NOTIFY on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from headwater import unrouted as shown_unrouted
from headwater.domain import inbound, signing
from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.sandbox_fixtures import Receiver
from tests.trace_support import wait_for_spans

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5),
    pytest.mark.api(
        loops=True, tick_seconds=30.0, max_body_bytes=65536, element_settings=FAST_ACTON
    ),
]


async def _webhooks_instance(
    api: RunningApi, receiver: Receiver, *, safety_net: bool = False
) -> tuple[str, int, str]:
    """An instance taking Act-On's webhooks, and the sandbox endpoint that feeds it."""
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    key = signing.generate_key()
    overrides: dict[str, Any] = {
        "event.vendor.type": "webhooks",
        "event.vendor.signature.key": key,
        "event.notification.callback.url": receiver.url,
        "event.notification.signature.key": receiver.secret,
    }
    if not safety_net:
        overrides["event.poller.configuration"] = None
        overrides["event.poller.refresh_interval"] = None
    else:
        overrides["event.poller.refresh_interval"] = "60"
    instance = await api.create_instance(overrides, auth=auth)
    url = f"{api.url}/events/acton/{inbound.encode_instance(instance['id'])}"
    api.sandbox.admin("POST", "/webhooks", {"url": url, "secret": key})
    return auth, instance["id"], key


def _events(arrivals: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["objectId"], e["eventType"])
        for a in arrivals
        if isinstance(a["json"], dict)
        for e in a["json"]["message"]["events"]
    ]


async def test_a_contact_added_then_updated_arrives_created_then_updated(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, _ = await _webhooks_instance(api, receiver)
    started = time.monotonic()
    [added] = api.sandbox.state.batch(
        [{"op": "create", "list": "l-0001", "values": {"First Name": "Ada"}}]
    )
    await receiver.wait_for(lambda a: len(_events(a)) >= 1, timeout=5)
    api.sandbox.state.batch([{"op": "update", "id": added, "values": {"Job Title": "CTO"}}])
    arrivals = await receiver.wait_for(lambda a: len(_events(a)) >= 2, timeout=5)
    assert time.monotonic() - started < 5, "woken at once, not at the 30 s tick"
    assert _events(arrivals) == [(added, "CREATED"), (added, "UPDATED")]
    assert all(a["elementsVerified"] and a["standardVerified"] for a in arrivals)
    message = arrivals[1]["json"]["message"]
    assert message["elementKey"] == "acton" and message["instanceId"] == iid
    [raw] = message["raw"]["contacts"]
    assert raw["type"] == "contact.updated" and raw["data"]["contact"]["Job Title"] == "CTO"
    kept = await api.call("GET", f"instances/{iid}/webhooks", auth=auth)
    assert [w["outcome"] for w in kept.json] == ["accepted", "accepted"]
    assert all(w["messageId"].startswith("msg_") for w in kept.json)


async def _post(
    api: RunningApi,
    path: str,
    body: bytes,
    key: str,
    *,
    message_id: str | None = None,
    stamp: int | None = None,
    prefix: str = "svix-",
    extra: dict[str, str] | None = None,
) -> tuple[int, Any]:
    message_id = message_id or "msg_" + uuid.uuid4().hex
    stamp = int(time.time()) if stamp is None else stamp
    headers = {
        "Content-Type": "application/json",
        f"{prefix}id": message_id,
        f"{prefix}timestamp": str(stamp),
        f"{prefix}signature": signing.standard_signature(key, message_id, stamp, body),
        **(extra or {}),
    }
    reply = await api.call("POST", path, data=body, headers=headers)
    return reply.status, reply.json


def _contact_body(contact_id: str, kind: str = "contact.updated") -> bytes:
    contact = {"_contact_id_": contact_id, "__modified_date": str(int(time.time() * 1000))}
    payload = {"type": kind, "timestamp": 0, "data": {"listId": "l-0001", "contact": contact}}
    return json.dumps(payload).encode()


async def test_bad_stale_replayed_unrouted_and_oversized_webhooks(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, key = await _webhooks_instance(api, receiver)
    path = f"events/acton/{inbound.encode_instance(iid)}"
    body = _contact_body("l-0001:1")

    status, answer = await _post(api, path, body, "whsec_" + "A" * 43)
    assert status == 401 and "svix-signature does not match" in answer["message"]
    status, answer = await _post(api, path, body, key, stamp=int(time.time()) - 600)
    assert status == 401 and "stale or replayed" in answer["message"]

    replayed = "msg_" + uuid.uuid4().hex
    first = await _post(api, path, body, key, message_id=replayed, prefix="webhook-")
    again = await _post(api, path, body, key, message_id=replayed)
    assert first[0] == 200 and len(first[1]["eventIds"]) == 1
    assert again[0] == 200 and again[1]["duplicate"] is True and again[1]["eventIds"] == []

    status, answer = await _post(api, "events/acton/OTk5OTk", body, key)
    assert status == 404 and "the body was kept" in answer["message"]
    header_routed = await _post(
        api, "events/acton", body, key, extra={"Element-Instances": str(iid)}
    )
    assert header_routed[0] == 200 and header_routed[1]["instanceId"] == iid
    # it belongs to no organization: listed without what it said, which the operator reads
    unrouted = await api.call("GET", "events/unrouted", auth=auth)
    assert [(w["outcome"], w["bodyBytes"]) for w in unrouted.json] == [("unrouted", len(body))]
    assert not {"body", "headers"} & set(unrouted.json[0])
    [kept] = await shown_unrouted.newest(api.settings, 10)
    assert kept.body == body and kept.headers["svix-id"]

    huge = _contact_body("l-0001:1" + "x" * 70000)
    status, answer = await _post(api, path, huge, key)
    assert status == 413 and answer["errors"][0]["field"] == "body"

    other = json.dumps({"type": "form.submitted", "data": {"formId": "f-1"}}).encode()
    status, answer = await _post(api, path, other, key)
    assert status == 200
    [event] = (
        (await api.call("GET", f"instances/events/{answer['eventIds'][0]}", auth=auth)).json,
    )
    assert (event["objectType"], event["eventType"]) == ("form.submitted", "UNKNOWN")

    kept = await api.call("GET", f"instances/{iid}/webhooks", auth=auth)
    outcomes = [w["outcome"] for w in reversed(kept.json)]
    assert outcomes == ["refused", "refused", "accepted", "duplicate", "accepted", "accepted"]
    stored = await api.call("GET", f"instances/{iid}/events", auth=auth)
    assert len(stored.json) == 3, "the replay stored nothing"


async def _poll(api: RunningApi, auth: str, iid: int) -> None:
    """Run the safety-net poller now (the scheduler runs it) and wait for it to finish.

    Finished means a run ended and the next is an interval away: a request that comes while the
    run a new instance gets at once is under way makes it run again as soon as it ends (and that
    run would find the test's changes later, in the middle of its assertions)."""
    before = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json[0]["lastRunDate"]
    reply = await api.call("POST", f"instances/{iid}/pollers/contacts/run", auth=auth)
    assert reply.status == 202, reply.text
    deadline = time.monotonic() + 10
    while True:
        [poller] = (await api.call("GET", f"instances/{iid}/pollers", auth=auth)).json
        last, upcoming = poller["lastRunDate"], poller["nextRunDate"]
        settled = _date(upcoming) > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        if last is not None and last != before and settled:
            assert poller["lastError"] is None, poller
            return
        assert time.monotonic() < deadline, poller
        await asyncio.sleep(0.02)


def _date(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


# the scheduler claims requested runs at its tick: a short one here
@pytest.mark.api(loops=True, tick_seconds=0.1, element_settings=FAST_ACTON)
async def test_the_safety_net_catches_a_dropped_webhook_and_repeats_nothing(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, _ = await _webhooks_instance(api, receiver, safety_net=True)
    [endpoint] = api.sandbox.admin("GET", "/webhooks")["endpoints"]
    await _poll(api, auth, iid)  # the first run starts the cursor
    api.sandbox.admin("PUT", f"/webhooks/{endpoint['id']}/drop", {"count": 1})
    [dropped] = api.sandbox.state.batch(
        [{"op": "update", "id": "l-0001:1", "values": {"Job Title": "dropped"}}]
    )
    [heard] = api.sandbox.state.batch(
        [{"op": "update", "id": "l-0001:2", "values": {"Job Title": "heard"}}]
    )
    await receiver.wait_for(lambda a: _events(a) == [(heard, "UPDATED")], timeout=5)
    await _poll(api, auth, iid)
    arrivals = await receiver.wait_for(lambda a: len(_events(a)) >= 2, timeout=5)
    found = _events(arrivals)
    assert sorted(found) == sorted([(heard, "UPDATED"), (dropped, "UPDATED")]), arrivals
    await _poll(api, auth, iid)  # the events a poll finds are stored before it finishes
    stored = (await api.call("GET", f"instances/{iid}/events", auth=auth)).json
    assert sorted((e["objectId"], e["eventType"]) for e in stored) == sorted(found)
    deliveries = api.sandbox.admin("GET", "/webhooks")["deliveries"]
    assert [d["dropped"] for d in deliveries] == [True, False]


@pytest.mark.receiver(fail="500,ok")
@pytest.mark.api(loops=True, tick_seconds=0.1, element_settings=FAST_ACTON)
async def test_webhooks_waiting_behind_a_retry_share_one_notification(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, key = await _webhooks_instance(api, receiver)
    reply = await api.call(
        "PATCH",
        f"instances/{iid}/configuration/event.notification.retry.schedule",
        auth=auth,
        json={"propertyValue": "1"},
    )
    assert reply.status == 200, reply.text
    path = f"events/acton/{inbound.encode_instance(iid)}"
    first = await _post(api, path, _contact_body("l-0001:1"), key)
    assert first[0] == 200
    await receiver.wait_for(lambda a: len(a) >= 1, timeout=5)  # refused: retried in 1 s
    for contact in ("l-0001:2", "l-0001:3", "l-0001:4"):
        assert (await _post(api, path, _contact_body(contact), key))[0] == 200
    arrivals = await receiver.wait_for(lambda a: len(receiver.delivered) >= 2, timeout=10)
    delivered = [a for a in arrivals if 200 <= a["status"] < 300]
    assert [len(a["json"]["message"]["events"]) for a in delivered] == [1, 3]
    assert _events(delivered) == [
        ("l-0001:1", "UPDATED"),
        ("l-0001:2", "UPDATED"),
        ("l-0001:3", "UPDATED"),
        ("l-0001:4", "UPDATED"),
    ]


async def test_the_instance_finder_routes_a_webhook_without_an_id(
    api: RunningApi, receiver: Receiver
) -> None:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    key = signing.generate_key()
    overrides = {
        "event.vendor.type": "webhooks",
        "event.vendor.signature.key": key,
        "event.notification.callback.url": receiver.url,
        "event.notification.instance.finder": "account.site|data.site",
        "account.site": "site-7",
        "event.poller.configuration": None,
        "event.poller.refresh_interval": None,
    }
    iid = (await api.create_instance(overrides, auth=auth))["id"]
    payload = {
        "type": "contact.added",
        "data": {"site": "site-7", "contact": {"_contact_id_": "l-0001:9"}},
    }
    status, answer = await _post(api, "events/acton", json.dumps(payload).encode(), key)
    assert status == 200 and answer["instanceId"] == iid
    payload["data"]["site"] = "site-8"  # type: ignore[index]
    status, answer = await _post(api, "events/acton", json.dumps(payload).encode(), key)
    assert status == 404 and "no instance finder matched" in answer["message"]


async def test_one_message_delivered_several_times_at_once_stores_one_event(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid, key = await _webhooks_instance(api, receiver)
    path = f"events/acton/{inbound.encode_instance(iid)}"
    body, message_id = _contact_body("l-0001:1"), "msg_" + uuid.uuid4().hex
    answers = await asyncio.gather(
        *(_post(api, path, body, key, message_id=message_id) for _ in range(5))
    )
    assert [status for status, _ in answers] == [200] * 5
    assert sorted(answer["duplicate"] for _, answer in answers) == [False] + [True] * 4
    stored = (await api.call("GET", f"instances/{iid}/events", auth=auth)).json
    assert len(stored) == 1


async def test_a_webhooks_notification_is_traced_from_the_webhook(
    api: RunningApi, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    await _webhooks_instance(api, receiver)
    [added] = api.sandbox.state.batch(
        [{"op": "create", "list": "l-0001", "values": {"First Name": "Ada"}}]
    )
    await receiver.wait_for(lambda a: len(_events(a)) >= 1, timeout=5)
    [attempt] = await wait_for_spans(spans, "headwater.delivery.attempt", 1)
    webhooks = {
        s.context.span_id: s for s in spans.get_finished_spans() if s.name == "headwater.webhook"
    }
    assert attempt.parent is not None and attempt.parent.span_id in webhooks, added
    webhook = webhooks[attempt.parent.span_id]
    assert webhook.context.trace_id == attempt.context.trace_id
    assert webhook.attributes is not None and webhook.attributes["headwater.element"] == "acton"
