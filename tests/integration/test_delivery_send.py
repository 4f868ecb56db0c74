"""Notifications reach the receiver in the JSON of DESIGN.md §4, signed, and are recorded."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater import bootstrap
from headwater.domain import signing
from headwater.storage import events, tables
from tests import delivery_support as support
from tests.sandbox_fixtures import Receiver


async def test_events_arrive_as_signed_notifications_of_up_to_ten(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        found = [support.contact(instance_id, n) for n in range(23)]
        event_ids, delivery_ids = await support.add_events(c, instance_id, found)
        assert len(delivery_ids) == 3  # 10 + 10 + 3

        async with support.running_worker(c):
            arrivals = await receiver.wait_for(lambda a: len(a) >= 3)
            await support.eventually(
                lambda: _all(c, delivery_ids, "delivered"), what="all delivered"
            )

    messages = [support.message(a) for a in arrivals]
    assert [len(m["events"]) for m in messages] == [10, 10, 3]
    assert [e["id"] for m in messages for e in m["events"]] == event_ids
    first = messages[0]
    assert first["eventId"].startswith("msg_") and len(first["eventId"]) == 36
    assert first["instance_id"] == first["instanceId"] == instance_id
    assert first["elementKey"] == "acton"
    assert first["events"][0] == {
        "id": event_ids[0],
        "objectType": "contacts",
        "objectId": "l-0001:0",
        "eventType": "UPDATED",
        "date": "2026-11-29T10:00:00.000Z",
        "pollDate": first["events"][0]["pollDate"],
        "elementKey": "acton",
        "hubKey": "marketing",
    }
    assert first["raw"]["objectType"] == "contacts"
    assert first["raw"]["instance_id"] == instance_id
    assert first["raw"]["contacts"] == [e.raw for e in found[:10]]
    assert list(first["raw"]) == ["objectType", "contacts", "instance_id"]

    for arrival in arrivals:
        headers = arrival["headers"]
        body = arrival["body"].encode()
        checked = support.check_signatures(receiver.secret, headers, body)
        assert checked.elements and checked.standard
        assert headers["Elements-Webhook-Id"] == headers["webhook-id"]
        assert headers["Elements-Webhook-Id"] == support.message(arrival)["eventId"]
        assert arrival["verified"] is True  # the receiver agrees

    stored = await _stored(db_url, tmp_path)
    assert [row.body for row in stored["deliveries"]] == [a["body"] for a in arrivals]
    assert all(row.status == "NOTIFIED" for row in stored["events"])
    assert all(row.delivery_id in delivery_ids for row in stored["events"])
    assert [(a.status_code, a.error) for a in stored["attempts"]] == [(200, None)] * 3
    assert all(a.latency_ms > 0 and '"received"' in a.response for a in stored["attempts"])


async def test_a_tampered_body_fails_verification(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        async with support.running_worker(c):
            (arrival,) = await receiver.wait_for(lambda a: len(a) == 1)

    body = arrival["body"].encode()
    tampered = body.replace(b"Contact 1", b"Contact 2")
    assert tampered != body
    good = support.check_signatures(receiver.secret, arrival["headers"], body)
    bad = support.check_signatures(receiver.secret, arrival["headers"], tampered)
    assert (good.elements, good.standard) == (True, True)
    assert (bad.elements, bad.standard) == (False, False)
    wrong_key = support.check_signatures(signing.generate_key(), arrival["headers"], body)
    assert (wrong_key.elements, wrong_key.standard) == (False, False)


async def test_a_plain_text_key_signs_with_its_utf8_bytes(
    db_url: str, tmp_path: Path, receiver_factory: Callable[..., Receiver]
) -> None:
    key = "a plain key of more than sixteen characters"
    made = receiver_factory(secret=key)
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=made.url, key=key)
        await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        async with support.running_worker(c):
            (arrival,) = await made.wait_for(lambda a: len(a) == 1)
    checked = support.check_signatures(key, arrival["headers"], arrival["body"].encode())
    assert checked.elements and checked.standard
    assert arrival["headers"]["Elements-Webhook-Signature"].startswith("sha256=")
    assert base64.b64decode(arrival["headers"]["Elements-Webhook-Signature"][7:])
    assert arrival["headers"]["webhook-signature"].startswith("v1,")


async def test_events_of_several_types_keep_their_order_in_separate_notifications(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        found = [support.contact(instance_id, n) for n in range(3)]
        lists = [
            events.NewEvent("lists", f"l-000{n}", "CREATED", found[0].date, {"id": n})
            for n in range(2)
        ]
        event_ids, delivery_ids = await support.add_events(c, instance_id, found[:2] + lists)
        assert len(delivery_ids) == 2
        async with support.running_worker(c):
            arrivals = await receiver.wait_for(lambda a: len(a) == 2)
    kinds = [support.message(a)["raw"]["objectType"] for a in arrivals]
    assert kinds == ["contacts", "lists"]
    assert support.message(arrivals[1])["raw"]["lists"] == [{"id": 0}, {"id": 1}]
    assert [e["id"] for a in arrivals for e in support.message(a)["events"]] == event_ids


async def test_nothing_is_queued_without_notifications(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(
            c, callback_url=receiver.url, key=receiver.secret, enabled=False
        )
        event_ids, delivery_ids = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        assert event_ids and delivery_ids == []
        stored = await support.rows(c, tables.events)
        assert [(row.status, row.delivery_id) for row in stored] == [("NEW", None)]


async def _all(c: bootstrap.Container, delivery_ids: list[int], status: str) -> bool:
    return await support.statuses(c, delivery_ids) == [status] * len(delivery_ids)


async def _stored(db_url: str, tmp_path: Path) -> dict[str, list[Any]]:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        return {
            "deliveries": await support.rows(c, tables.deliveries),
            "events": await support.rows(c, tables.events),
            "attempts": await support.rows(c, tables.attempts),
        }
