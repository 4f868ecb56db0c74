"""The receiver is down for a while, then up: every notification arrives, in order, none lost."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from headwater.domain import signing
from headwater.sandbox import receiver as receiver_module
from headwater.sandbox import serving
from headwater.storage import tables
from tests import delivery_support as support

INSTANCES = 3
EVENTS_BEFORE = 25  # 3 notifications each
EVENTS_DURING = 12  # 2 more each, found while the receiver is down


async def test_a_receiver_down_for_a_while_gets_everything_in_order(
    db_url: str, tmp_path: Path
) -> None:
    key = signing.generate_key()
    port = support.free_port()
    url = f"http://127.0.0.1:{port}/events"
    settings = support.settings_for(db_url, tmp_path, retry_schedule=(0.2, 0.4, 0.8, 1.6, 3.2, 6.4))
    app = receiver_module.build_app(key)
    server = serving.BackgroundServer(app, port=port)
    async with support.container(settings) as c:
        ids = [await support.make_instance(c, callback_url=url, key=key) for _ in range(INSTANCES)]
        expected: dict[int, list[int]] = defaultdict(list)
        deliveries: list[int] = []
        for instance_id in ids:
            found = [support.contact(instance_id, n) for n in range(EVENTS_BEFORE)]
            event_ids, made = await support.add_events(c, instance_id, found)
            expected[instance_id] += event_ids
            deliveries += made
        async with support.running_worker(c):

            async def every_head_failed_twice() -> bool:
                attempts = await support.rows(c, tables.attempts)
                per_delivery: dict[int, int] = defaultdict(int)
                for attempt in attempts:
                    per_delivery[attempt.delivery_id] += 1
                return len([d for d, n in per_delivery.items() if n >= 2]) == INSTANCES

            await support.eventually(every_head_failed_twice, what="two failed attempts each")
            for instance_id in ids:
                found = [
                    support.contact(instance_id, n)
                    for n in range(EVENTS_BEFORE, EVENTS_BEFORE + EVENTS_DURING)
                ]
                event_ids, made = await support.add_events(c, instance_id, found)
                expected[instance_id] += event_ids
                deliveries += made
            failed = await support.rows(c, tables.attempts)
            assert all(a.status_code is None and "cannot connect" in a.error for a in failed)

            server.start()
            try:
                await support.eventually(
                    lambda: _all_delivered(c, deliveries), timeout=30, what="all delivered"
                )
            finally:
                server.stop()

    arrivals = app[receiver_module.ARRIVALS]
    assert all(a["verified"] for a in arrivals)
    received: dict[int, list[int]] = defaultdict(list)
    notifications: dict[int, list[str]] = defaultdict(list)
    for arrival in arrivals:
        message: dict[str, Any] = support.message(arrival)
        notifications[message["instanceId"]].append(message["eventId"])
        received[message["instanceId"]] += [event["id"] for event in message["events"]]
    # in order per instance, each event exactly once (nothing was sent twice: no crash here)
    assert dict(received) == dict(expected)
    assert sum(len(n) for n in notifications.values()) == len(deliveries)
    assert all(len(set(n)) == len(n) for n in notifications.values())


async def _all_delivered(c: Any, deliveries: list[int]) -> bool:
    return set(await support.statuses(c, deliveries)) == {"delivered"}
