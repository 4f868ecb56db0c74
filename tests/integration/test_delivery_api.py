"""The deliveries API over the real server: the log, releasing, replays, test notifications."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from headwater.storage import tables
from tests import delivery_support as support
from tests.api_fixtures import RunningApi
from tests.sandbox_fixtures import Receiver

pytestmark = pytest.mark.api(loops=True, tick_seconds=0.02, retry_schedule=(0.1, 0.2))

DELIVERIES = "notifications/subscriptions/deliveries"


def _q(where: str) -> str:
    return urllib.parse.quote(where)


async def _instance(api: RunningApi, receiver: Receiver, auth: str) -> int:
    created = await api.create_instance(
        {
            "event.notification.callback.url": receiver.url,
            "event.notification.signature.key": receiver.secret,
        },
        auth=auth,
    )
    return int(created["id"])


async def _wait_statuses(api: RunningApi, auth: str, where: str, count: int) -> list[Any]:
    found: list[Any] = []

    async def enough() -> bool:
        nonlocal found
        reply = await api.call("GET", f"{DELIVERIES}?where={_q(where)}", auth=auth)
        assert reply.status == 200, reply.text
        found = reply.json
        return len(found) >= count

    await support.eventually(enough, what=f"{count} deliveries with {where}")
    return found


async def test_the_log_shows_deliveries_with_attempts_paged_and_scoped(
    api: RunningApi, receiver: Receiver
) -> None:
    receiver.set_failures("500,ok")
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    found = [support.contact(instance_id, n) for n in range(25)]
    event_ids, delivery_ids = await support.add_events(api.container, instance_id, found)
    delivered = await _wait_statuses(api, auth, "status='delivered'", 3)

    assert [d["id"] for d in delivered] == sorted(delivery_ids, reverse=True)  # newest first
    first = delivered[-1]
    assert set(first) >= {
        "id",
        "notificationId",
        "instanceId",
        "url",
        "status",
        "attempts",
        "nextAttemptDate",
        "createdDate",
        "updatedDate",
    }
    assert first["instanceId"] == instance_id and first["url"] == receiver.url
    assert [a["statusCode"] for a in first["attempts"]] == [500, 200]
    assert first["attempts"][0]["error"].startswith("HTTP 500")
    assert first["attempts"][1]["response"] == '{"received": 1}'
    assert first["attempts"][0]["date"].endswith("Z") and first["attempts"][0]["latencyMs"] > 0
    assert first["nextAttemptDate"] is None

    page = await api.call("GET", f"{DELIVERIES}?pageSize=2", auth=auth)
    token = page.headers["Elements-Next-Page-Token"]
    rest = await api.call("GET", f"{DELIVERIES}?pageSize=2&nextPage={token}", auth=auth)
    assert [d["id"] for d in page.json + rest.json] == sorted(delivery_ids, reverse=True)
    assert "Elements-Next-Page-Token" not in rest.headers

    by_id = _q(f"notificationId='{first['notificationId']}'")
    one = await api.call("GET", f"{DELIVERIES}?hydrate=true&where={by_id}", auth=auth)
    assert [d["id"] for d in one.json] == [first["id"]]
    assert [e["id"] for e in one.json[0]["message"]["events"]] == event_ids[:10]

    events = await api.call("GET", f"instances/{instance_id}/events?pageSize=100", auth=auth)
    assert {e["status"] for e in events.json} == {"NOTIFIED"}
    assert {e["notificationId"] for e in events.json} == {d["notificationId"] for d in delivered}

    stranger = await api.create_user("Other")
    assert (await api.call("GET", DELIVERIES, auth=stranger)).json == []
    bad = await api.call("GET", f"{DELIVERIES}?where={_q('colour=1')}", auth=auth)
    assert bad.status == 400 and bad.json["errors"][0]["field"] == "where"
    assert "colour" in bad.json["errors"][0]["problem"]


async def test_exhausted_deliveries_are_queued_then_released_by_put(
    api: RunningApi, receiver: Receiver
) -> None:
    receiver.set_failures("500")
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    _, delivery_ids = await support.add_events(
        api.container, instance_id, [support.contact(instance_id, n) for n in range(12)]
    )
    queued = await _wait_statuses(api, auth, "status='queued'", 2)
    assert len(queued[-1]["attempts"]) == 3 and queued[0]["attempts"] == []
    instance = await api.call("GET", f"instances/{instance_id}", auth=auth)
    assert instance.status == 200

    receiver.set_failures("ok")
    # as Cloud Elements clients write it
    where = "channel='webhook' and status='queued'"
    released = await api.call("PUT", f"{DELIVERIES}?where={_q(where)}", auth=auth)
    assert released.status == 200, released.text
    assert [d["id"] for d in released.json] == sorted(delivery_ids)
    assert {d["status"] for d in released.json} == {"created"}
    delivered = await _wait_statuses(api, auth, "status='delivered'", 2)
    assert [len(d["attempts"]) for d in delivered] == [1, 4]
    rows = await support.rows(api.container, tables.instances)
    assert [r.subscription_active for r in rows] == [True]
    again = await api.call("PUT", f"{DELIVERIES}?where={_q(where)}", auth=auth)
    assert again.json == []


async def test_replay_sends_stored_events_again_as_new_notifications(
    api: RunningApi, receiver: Receiver
) -> None:
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    found = [support.contact(instance_id, n) for n in range(12)]
    event_ids, delivery_ids = await support.add_events(api.container, instance_id, found)
    await receiver.wait_for(lambda a: len(a) == 2)

    reply = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=auth,
        json={"from": "2026-11-29T10:00:03Z", "to": "2026-11-29T10:00:11Z"},
    )
    assert reply.status == 200, reply.text
    assert reply.json["eventCount"] == 8
    replayed = [d["id"] for d in reply.json["deliveries"]]
    assert len(replayed) == 1 and reply.json["deliveries"][0]["kind"] == "replay"
    arrivals = await receiver.wait_for(lambda a: len(a) == 3)
    message = support.message(arrivals[2])
    assert [e["id"] for e in message["events"]] == event_ids[3:11]
    assert message["raw"]["contacts"] == [e.raw for e in found[3:11]]
    assert message["eventId"] not in {support.message(a)["eventId"] for a in arrivals[:2]}
    events = await support.rows(api.container, tables.events)
    assert {e.delivery_id for e in events} == set(delivery_ids)  # the originals stay linked

    filtered = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=auth,
        json={
            "from": "2026-11-29T00:00:00Z",
            "to": "2026-11-30T00:00:00Z",
            "where": "objectId='l-0001:5'",
        },
    )
    assert filtered.json["eventCount"] == 1
    bad = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=auth,
        json={"from": "yesterday", "to": "2026-11-30T00:00:00Z"},
    )
    assert bad.status == 400 and bad.json["errors"][0]["field"] == "from"
    edge = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=auth,
        json={"from": "0001-01-01T00:00:00+05:00", "to": "2026-11-30T00:00:00Z"},
    )
    assert edge.status == 400 and edge.json["errors"][0]["field"] == "from"
    backwards = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=auth,
        json={"from": "2026-11-30T00:00:00Z", "to": "2026-11-29T00:00:00Z"},
    )
    assert backwards.status == 400 and backwards.json["errors"][0]["field"] == "to"
    stranger = await api.create_user("Other")
    hidden = await api.call(
        "POST",
        f"instances/{instance_id}/events/replay",
        auth=stranger,
        json={"from": "2026-11-29T00:00:00Z", "to": "2026-11-30T00:00:00Z"},
    )
    assert hidden.status == 404


async def test_a_test_notification_answers_with_its_attempt(
    api: RunningApi, receiver: Receiver
) -> None:
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    reply = await api.call("POST", f"instances/{instance_id}/notifications/test", auth=auth)
    assert reply.status == 200, reply.text
    assert reply.json["status"] == "delivered" and reply.json["kind"] == "test"
    assert [a["statusCode"] for a in reply.json["attempts"]] == [200]
    (arrival,) = receiver.arrivals
    assert arrival["verified"] is True
    checked = support.check_signatures(
        receiver.secret, arrival["headers"], arrival["body"].encode()
    )
    assert checked.elements and checked.standard
    assert support.message(arrival)["eventId"] == reply.json["notificationId"]

    receiver.set_failures("503")
    failed = await api.call("POST", f"instances/{instance_id}/notifications/test", auth=auth)
    assert failed.json["status"] == "failed"
    assert failed.json["attempts"][0]["statusCode"] == 503
    rows = await support.rows(api.container, tables.instances)
    assert [r.subscription_active for r in rows] == [True]  # a test never deactivates
    assert len(receiver.arrivals) == 2

    stranger = await api.create_user("Other")
    other = await api.call("POST", f"instances/{instance_id}/notifications/test", auth=stranger)
    assert other.status == 404


async def test_deleting_the_instance_deletes_its_deliveries(
    api: RunningApi, receiver: Receiver, receiver_factory: Callable[..., Receiver]
) -> None:
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    await support.add_events(api.container, instance_id, [support.contact(instance_id, 1)])
    await _wait_statuses(api, auth, "status='delivered'", 1)
    assert (await api.call("DELETE", f"instances/{instance_id}", auth=auth)).status == 200
    assert (await api.call("GET", DELIVERIES, auth=auth)).json == []
    assert await support.rows(api.container, tables.attempts) == []
    assert await support.rows(api.container, tables.events) == []


async def test_metrics_show_delivery_figures(api: RunningApi, receiver: Receiver) -> None:
    auth = await api.create_user()
    instance_id = await _instance(api, receiver, auth)
    await support.add_events(api.container, instance_id, [support.contact(instance_id, 1)])
    await _wait_statuses(api, auth, "status='delivered'", 1)
    text = (await api.call("GET", "/metrics")).text
    assert 'headwater_notifications_total{outcome="delivered"}' in text
    assert "headwater_delivery_attempt_seconds_count" in text
    assert 'headwater_delivery_queue_depth{status="queued"}' in text
    assert "headwater_delivery_oldest_undelivered_seconds" in text


@pytest.mark.parametrize(
    "where",
    ["id=99999999999", "status='a\x00b'", "createdDate>'yesterday'", "status=", "kind='x' or 1=1"],
)
async def test_bad_filters_are_refused_naming_where(api: RunningApi, where: str) -> None:
    auth = await api.create_user()
    reply = await api.call("GET", f"{DELIVERIES}?where={_q(where)}", auth=auth)
    assert reply.status == 400, reply.text
    assert reply.json["errors"][0]["field"] == "where"
    released = await api.call("PUT", f"{DELIVERIES}?where={_q(where)}", auth=auth)
    assert released.status == 400, released.text
