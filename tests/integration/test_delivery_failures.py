"""Receivers that fail: retries, Retry-After, timeouts, redirects, 410, running out, releasing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater import bootstrap
from headwater.storage import tables
from tests import delivery_support as support
from tests.sandbox_fixtures import Receiver

_d = tables.deliveries


async def _attempts(c: bootstrap.Container, delivery_id: int) -> list[Any]:
    return await support.rows(c, tables.attempts, tables.attempts.c.delivery_id == delivery_id)


async def _instance(c: bootstrap.Container, instance_id: int) -> Any:
    (row,) = await support.rows(c, tables.instances, tables.instances.c.id == instance_id)
    return row


async def test_5xx_is_retried_until_delivered(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("500,503,ok")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(
                lambda: _is(c, delivery_id, "delivered"), what="delivered after two failures"
            )
        attempts = await _attempts(c, delivery_id)
        (event,) = await support.rows(c, tables.events)
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert attempts[0].error.startswith("HTTP 500")
    assert event.status == "NOTIFIED"
    bodies = {a["body"] for a in receiver.arrivals}
    ids = {a["eventId"] for a in receiver.arrivals}
    assert len(bodies) == 1 and len(ids) == 1  # the same bytes and eventId every attempt
    stamps = [a["headers"]["webhook-timestamp"] for a in receiver.arrivals]
    assert all(
        support.check_signatures(receiver.secret, a["headers"], a["body"].encode()).standard
        for a in receiver.arrivals
    )
    assert len(stamps) == 3


async def test_while_a_retry_waits_its_events_are_dispatched(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("500,ok")
    settings = support.settings_for(db_url, tmp_path, retry_schedule=(2.0,))
    async with support.container(settings) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, n) for n in range(3)]
        )
        assert {e.status for e in await support.rows(c, tables.events)} == {"NEW"}
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "retry"))
            (waiting,) = await support.rows(c, _d, _d.c.id == delivery_id)
            assert {e.status for e in await support.rows(c, tables.events)} == {"DISPATCHED"}
            await support.eventually(lambda: _is(c, delivery_id, "delivered"))
        assert {e.status for e in await support.rows(c, tables.events)} == {"NOTIFIED"}
    assert waiting.attempt_count == 1 and waiting.last_error.startswith("HTTP 500")
    assert waiting.lease_owner is None
    assert 1.7 <= (waiting.next_attempt_at - waiting.updated_at).total_seconds() <= 2.3


async def test_retry_after_replaces_the_next_delay(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("429:1,ok")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "delivered"))
        first, second = await _attempts(c, delivery_id)
    assert first.status_code == 429 and second.status_code == 200
    # the schedule says 0.1 s; the receiver asked for 1 s
    assert (second.date - first.date).total_seconds() >= 0.95


async def test_a_timeout_is_recorded_and_retried(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("timeout:3,ok")
    settings = support.settings_for(db_url, tmp_path, delivery_timeout_seconds=0.5)
    async with support.container(settings) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "delivered"))
        first, second = await _attempts(c, delivery_id)
    assert first.status_code is None and first.error == "timed out after 0.5 s"
    assert 450 <= first.latency_ms < 2000
    assert second.status_code == 200


async def test_a_redirect_is_a_failure_and_is_not_followed(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("302,ok")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "delivered"))
        first, second = await _attempts(c, delivery_id)
    assert first.status_code == 302
    assert "redirect to /moved not followed" in first.error
    assert second.status_code == 200
    assert [a["path"] for a in receiver.arrivals] == ["/events", "/events"]


async def test_410_gives_up_at_once_and_queues_what_follows(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("410")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        found = [support.contact(instance_id, n) for n in range(15)]
        _, delivery_ids = await support.add_events(c, instance_id, found)
        async with support.running_worker(c):
            await support.eventually(
                lambda: _statuses_are(c, delivery_ids, ["queued", "queued"]), what="queued"
            )
            # found while the subscription is inactive: queued at once
            _, later = await support.add_events(c, instance_id, [support.contact(instance_id, 99)])
        assert await support.statuses(c, later) == ["queued"]
        assert len(receiver.arrivals) == 1
        assert [a.status_code for a in await _attempts(c, delivery_ids[0])] == [410]
        assert await _attempts(c, delivery_ids[1]) == []
        assert (await _instance(c, instance_id)).subscription_active is False
        events = await support.rows(c, tables.events)
        assert {e.status for e in events if e.delivery_id == delivery_ids[0]} == {"FAILED"}
        assert {e.status for e in events if e.delivery_id != delivery_ids[0]} == {"NEW"}
        (first,) = await support.rows(c, _d, _d.c.id == delivery_ids[0])
        assert "410" in first.last_error


async def test_exhausted_then_queued_then_released_in_order(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("500")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        found = [support.contact(instance_id, n) for n in range(25)]
        _, delivery_ids = await support.add_events(c, instance_id, found)
        async with support.running_worker(c):
            await support.eventually(
                lambda: _statuses_are(c, delivery_ids, ["queued"] * 3), what="exhausted"
            )
            # 1 attempt + 2 retries (schedule 0.1, 0.2), then nothing more
            assert [a.status_code for a in await _attempts(c, delivery_ids[0])] == [500] * 3
            assert len(receiver.arrivals) == 3
            assert (await _instance(c, instance_id)).subscription_active is False

            receiver.set_failures("ok")
            (organization_id,) = [(await _instance(c, instance_id)).organization_id]
            released = await c.deliveries.release(
                organization_id=organization_id, where="status='queued'"
            )
            assert [view.delivery.id for view in released] == delivery_ids
            await support.eventually(
                lambda: _statuses_are(c, delivery_ids, ["delivered"] * 3), what="released"
            )
        assert (await _instance(c, instance_id)).subscription_active is True
    sent = [support.message(a) for a in receiver.arrivals[3:]]
    assert [m["eventId"] for m in sent] == [
        row.notification_id for row in await _rows(db_url, tmp_path, delivery_ids)
    ]
    events = [e["id"] for m in sent for e in m["events"]]
    assert events == sorted(events) and len(events) == 25


async def test_the_instance_schedule_wins_over_the_server_one(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.set_failures("500")
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(
            c, callback_url=receiver.url, key=receiver.secret, schedule=[0.05]
        )
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "queued"))
        assert len(await _attempts(c, delivery_id)) == 2


async def test_a_waiting_instance_holds_back_only_itself(
    db_url: str, tmp_path: Path, receiver_factory: Callable[..., Receiver]
) -> None:
    slow = receiver_factory(fail="500,500,ok")
    fast = receiver_factory()
    settings = support.settings_for(db_url, tmp_path, retry_schedule=(0.5, 0.5))
    async with support.container(settings) as c:
        stuck = await support.make_instance(c, callback_url=slow.url, key=slow.secret)
        free = await support.make_instance(c, callback_url=fast.url, key=fast.secret)
        _, stuck_ids = await support.add_events(
            c, stuck, [support.contact(stuck, n) for n in range(20)]
        )
        _, free_ids = await support.add_events(
            c, free, [support.contact(free, n) for n in range(30)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _statuses_are(c, free_ids, ["delivered"] * 3))
            # the other instance is still on its first notification
            assert {a["eventId"] for a in slow.arrivals} <= {
                row.notification_id for row in await support.rows(c, _d, _d.c.id == stuck_ids[0])
            }
            await support.eventually(lambda: _statuses_are(c, stuck_ids, ["delivered"] * 2))
    order = [a["eventId"] for a in slow.arrivals]
    first_id = order[0]
    assert order[:3] == [first_id] * 3 and len(order) == 4 and order[3] != first_id


async def test_private_callbacks_are_refused_at_send_time_unless_allowed(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = support.settings_for(db_url, tmp_path, allow_private_callbacks=False)
    async with support.container(settings) as c:
        # "localhost" is a name: accepted when written, refused once it resolves to loopback
        url = receiver.url.replace("127.0.0.1", "localhost")
        instance_id = await support.make_instance(c, callback_url=url, key=receiver.secret)
        _, (delivery_id,) = await support.add_events(
            c, instance_id, [support.contact(instance_id, 1)]
        )
        async with support.running_worker(c):
            await support.eventually(lambda: _is(c, delivery_id, "queued"))
        attempts = await _attempts(c, delivery_id)
    assert len(attempts) == 3 and all(a.status_code is None for a in attempts)
    assert "private or loopback address" in attempts[0].error
    assert receiver.arrivals == []


async def _is(c: bootstrap.Container, delivery_id: int, status: str) -> bool:
    return await support.statuses(c, [delivery_id]) == [status]


async def _statuses_are(c: bootstrap.Container, ids: list[int], expected: list[str]) -> bool:
    return await support.statuses(c, ids) == expected


async def _rows(db_url: str, tmp_path: Path, ids: list[int]) -> list[Any]:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        return await support.rows(c, _d, _d.c.id.in_(ids))
