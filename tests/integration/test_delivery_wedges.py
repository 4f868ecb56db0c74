"""Nothing wedges a delivery: an error before or during a send, or while deciding what follows it,
is a recorded attempt like any other failure; when even recording fails, the lease runs out and
the delivery is taken over. The instance's later notifications still go out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.domain import retry
from headwater.errors import StorageError
from headwater.storage import db, delivery_claims, secrets, tables
from tests import delivery_support as support
from tests.sandbox_fixtures import Receiver

_d = tables.deliveries
_i = tables.instances


async def _attempts(c: bootstrap.Container, delivery_id: int) -> list[Any]:
    return await support.rows(c, tables.attempts, tables.attempts.c.delivery_id == delivery_id)


async def _status(c: bootstrap.Container, delivery_id: int) -> str:
    (row,) = await support.rows(c, _d, _d.c.id == delivery_id)
    return str(row.status)


async def _seal(c: bootstrap.Container, instance_id: int, sealed: str) -> None:
    async with db.transaction(c.engine) as conn:
        await conn.execute(sa.update(_i).where(_i.c.id == instance_id).values(secrets=sealed))


async def test_a_signature_key_that_cannot_be_decrypted_is_a_recorded_failure(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        # sealed under another server key, as after HEADWATER_SECRET_KEY changed by mistake
        foreign = secrets.SecretBox.legacy("another-server-key").seal(
            {"event.notification.signature.key": receiver.secret}
        )
        await _seal(c, instance_id, foreign)
        _, (first,) = await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        _, (second,) = await support.add_events(c, instance_id, [support.contact(instance_id, 2)])
        async with support.running_worker(c):
            await support.eventually(
                lambda: _statuses(c, [first, second], ["queued", "queued"]),
                what="retries ran out and the subscription was deactivated",
            )
            attempts = await _attempts(c, first)
            assert len(attempts) == 3, "one attempt and the two retries of the schedule"
            assert all(a.status_code is None for a in attempts)
            assert all("cannot be decrypted" in a.error for a in attempts)
            assert receiver.arrivals == [], "nothing unsigned went out"

            await _seal(
                c,
                instance_id,
                c.secrets.seal({"event.notification.signature.key": receiver.secret}),
            )
            (instance,) = await support.rows(c, _i, _i.c.id == instance_id)
            released = await c.deliveries.release(
                organization_id=instance.organization_id, where=None
            )
            assert [view.delivery.id for view in released] == [first, second]
            await support.eventually(
                lambda: _statuses(c, [first, second], ["delivered", "delivered"]),
                what="released and delivered",
            )
    assert [support.message(a)["events"][0]["objectId"] for a in receiver.delivered] == [
        "l-0001:1",
        "l-0001:2",
    ]


async def test_a_crash_while_deciding_the_next_attempt_is_recorded_and_retried(
    db_url: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.set_failures("500,ok")

    # deciding the next attempt crashes (stored schedules are read defensively, so the crash is
    # provoked inside Headwater's own code)
    decide = retry.next_step
    crashes = [OverflowError("date value out of range")]

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if crashes:
            raise crashes.pop()
        return decide(*args, **kwargs)

    monkeypatch.setattr(retry, "next_step", crashing)
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (first,) = await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        _, (second,) = await support.add_events(c, instance_id, [support.contact(instance_id, 2)])
        async with support.running_worker(c):
            await support.eventually(
                lambda: _statuses(c, [first, second], ["delivered", "delivered"]),
                what="both delivered",
            )
        failed, delivered = await _attempts(c, first)
    assert (failed.status_code, delivered.status_code) == (500, 200)
    waited = (delivered.date - failed.date).total_seconds()
    assert waited >= c.settings.delivery_lease_seconds - 0.5, "retried one lease period later"


async def test_when_an_attempt_cannot_be_recorded_the_lease_runs_out_and_it_is_taken_over(
    db_url: str,
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a delivered attempt is recorded by record_delivered (with others that finished meanwhile)
    real = delivery_claims.record_delivered
    calls = 0

    async def failing_once(*args: Any, **kwargs: Any) -> set[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageError("database error: the connection was lost")
        return await real(*args, **kwargs)

    monkeypatch.setattr(delivery_claims, "record_delivered", failing_once)
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        instance_id = await support.make_instance(c, callback_url=receiver.url, key=receiver.secret)
        _, (first,) = await support.add_events(c, instance_id, [support.contact(instance_id, 1)])
        _, (second,) = await support.add_events(c, instance_id, [support.contact(instance_id, 2)])
        with caplog.at_level(logging.ERROR, logger="headwater.delivery.dispatch"):
            async with support.running_worker(c):
                await support.eventually(
                    lambda: _statuses(c, [first, second], ["delivered", "delivered"]),
                    what="taken over and delivered",
                )
        attempts = await _attempts(c, first)
    assert any("could not be recorded" in r.getMessage() for r in caplog.records)
    sent = [a["eventId"] for a in receiver.delivered]
    assert len(sent) == 3 and sent[0] == sent[1] != sent[2], "sent again once taken over"
    assert [a.status_code for a in attempts] == [200]


async def _statuses(c: bootstrap.Container, ids: list[int], expected: list[str]) -> bool:
    return [await _status(c, one) for one in ids] == expected
