"""Operations notifications: each alert fires once when its condition starts and once when it
ends, reaches the organization's operations receiver signed, and is in the delivery log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.storage import db, tables
from tests import delivery_support
from tests.api_fixtures import FAST_ACTON, RunningApi
from tests.operations_support import check, counted, notices, with_operations
from tests.poller_support import run_poller
from tests.sandbox_fixtures import Receiver

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=1, contacts=5),
    pytest.mark.api(
        element_settings=FAST_ACTON,
        poller_failure_limit=2,
        retry_schedule=(0.05,),
        tick_seconds=0.02,
        alert_check_seconds=3600.0,  # the tests run the checks themselves
    ),
]


async def _setup(
    api: RunningApi, receiver: Receiver, overrides: dict[str, Any] | None = None
) -> tuple[str, int]:
    api.sandbox.state.clock.reset()
    auth = await api.create_user()
    await with_operations(api, auth, receiver)
    iid = (await api.create_instance(overrides, auth=auth))["id"]
    assert (await run_poller(api.container, iid)).status == "ok"
    return auth, iid


async def _delivered(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    await receiver.wait_for(lambda arrivals: len(arrivals) >= count)
    return notices(receiver)


async def test_the_operations_endpoint_is_set_read_and_removed(
    api: RunningApi, receiver: Receiver
) -> None:
    auth = await api.create_user()
    path = "notifications/operations"
    assert (await api.call("GET", path, auth=auth)).status == 404
    generated = await api.call("PUT", path, auth=auth, json={"url": receiver.url})
    assert generated.status == 200, generated.text
    key = generated.json["signatureKey"]
    assert key.startswith("whsec_") and generated.json["signatureKeySet"] is True
    shown = await api.call("GET", path, auth=auth)
    assert shown.json["url"] == receiver.url and "signatureKey" not in shown.json
    moved = await api.call("PUT", path, auth=auth, json={"url": receiver.base_url + "/ops"})
    assert moved.status == 200 and "signatureKey" not in moved.json, "the stored key stays"
    bad = await api.call("PUT", path, auth=auth, json={"url": "ftp://x", "signatureKey": "short"})
    assert bad.status == 400
    assert {e["field"] for e in bad.json["errors"]} == {"url", "signatureKey"}
    assert (await api.call("DELETE", path, auth=auth)).status == 200
    assert (await api.call("GET", path, auth=auth)).status == 404
    assert (await api.call("DELETE", path, auth=auth)).status == 404


async def test_a_disabled_poller_and_its_recovery(
    api: RunningApi, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    auth, iid = await _setup(api, receiver)
    before = counted("poller.disabled"), counted("poller.recovered")
    fault = api.sandbox.state.faults.add({"kind": "status", "status": 500})
    for _ in range(2):
        assert (await run_poller(api.container, iid)).status == "unavailable"
    with caplog.at_level(logging.INFO, logger="headwater.delivery.alerts"):
        assert await check(api) == ["poller.disabled"]
        assert await check(api) == [], "fires once while the poller stays disabled"
        api.sandbox.state.faults.remove(fault.id)
        resumed = await api.call("PUT", f"instances/{iid}/pollers/contacts/enabled", auth=auth)
        assert resumed.status == 200
        assert await check(api) == [], "resumed is not recovered: it has to run"
        assert (await run_poller(api.container, iid)).status == "ok"
        assert await check(api) == ["poller.recovered"]
        assert await check(api) == []
    lines = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "headwater.delivery.alerts"
    ]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert "poller.disabled" in lines[0][1] and "'contacts'" in lines[0][1]
    assert counted("poller.disabled") == before[0] + 1
    assert counted("poller.recovered") == before[1] + 1

    async with delivery_support.running_worker(api.container):
        disabled, recovered = await _delivered(receiver, 2)
    assert all(a["verified"] for a in receiver.arrivals), "signed with the endpoint's key"
    assert disabled["type"] == "poller.disabled" and recovered["type"] == "poller.recovered"
    assert disabled["instanceId"] == iid and disabled["resource"] == "contacts"
    assert disabled["pollerId"] == recovered["pollerId"]
    assert "2 failures in a row" in disabled["reason"]
    assert "ran again without error" in recovered["reason"]
    headers = receiver.arrivals[0]["headers"]
    assert headers["webhook-id"] == disabled["id"] == headers["Elements-Webhook-Id"]

    log = await api.call(
        "GET", "notifications/subscriptions/deliveries?where=kind='operations'", auth=auth
    )
    assert [d["status"] for d in log.json] == ["delivered", "delivered"]
    assert all(d["attempts"][0]["statusCode"] == 200 for d in log.json)


async def test_an_invalid_instance_and_its_reauthentication(
    api: RunningApi, receiver: Receiver
) -> None:
    auth, iid = await _setup(api, receiver)
    api.sandbox.admin("POST", "/tokens/revoke", {"access": True})
    assert (await run_poller(api.container, iid)).status == "refused"
    assert await check(api) == ["instance.invalid"]
    assert await check(api) == []
    body = api.docs_body(await api.authorize_code())
    assert (await api.call("PUT", f"instances/{iid}", auth=auth, json=body)).status == 200
    assert await check(api) == ["instance.valid"]
    async with delivery_support.running_worker(api.container):
        invalid, valid = await _delivered(receiver, 2)
    assert all(a["verified"] for a in receiver.arrivals)
    assert (invalid["type"], valid["type"]) == ("instance.invalid", "instance.valid")
    assert invalid["reason"] and "pollerId" not in invalid


async def test_a_deactivated_subscription_its_backlog_and_their_recovery(
    api: RunningApi, receiver: Receiver, receiver_factory: Any
) -> None:
    callbacks = receiver_factory(fail="500")
    auth, iid = await _setup(api, receiver, {"event.notification.callback.url": callbacks.url})
    api.sandbox.state.batch([{"op": "touch", "id": "l-0001:1"}])
    assert (await run_poller(api.container, iid)).events == 1
    queued = tables.deliveries.c.status == "queued"
    async with delivery_support.running_worker(api.container):
        await delivery_support.eventually(
            lambda: _any(api, queued), what="the subscription deactivated"
        )
        assert await check(api) == ["subscription.deactivated"]
        assert await check(api) == [], "the backlog is young"
        await _age(api, iid, hours=1)
        assert await check(api) == ["backlog.exceeded"], "older than 900 s, an hour later"
        assert await check(api) == []

        callbacks.set_failures("")
        released = await api.call(
            "PUT", "notifications/subscriptions/deliveries?where=status='queued'", auth=auth
        )
        assert released.status == 200, released.text
        await callbacks.wait_for(lambda arrivals: any(a["status"] == 200 for a in arrivals))
        await delivery_support.eventually(
            lambda: _none_undelivered(api, iid), what="the backlog delivered"
        )
        assert sorted(await check(api)) == ["backlog.cleared", "subscription.reactivated"]
        got = await _delivered(receiver, 4)
    assert [n["type"] for n in got[:2]] == ["subscription.deactivated", "backlog.exceeded"]
    assert sorted(n["type"] for n in got[2:]) == ["backlog.cleared", "subscription.reactivated"]
    assert "HTTP 500" in got[0]["reason"]
    assert "over the threshold of 900 s" in got[1]["reason"]
    assert all(a["verified"] for a in receiver.arrivals)


async def test_several_workers_decide_each_transition_once(
    api: RunningApi, receiver: Receiver
) -> None:
    _, iid = await _setup(api, receiver)
    api.sandbox.admin("POST", "/tokens/revoke", {"access": True})
    assert (await run_poller(api.container, iid)).status == "refused"
    async with (
        bootstrap.container(api.settings, loops=False) as second,
        bootstrap.container(api.settings, loops=False) as third,
    ):
        watches = [api.container.alerts, second.alerts, third.alerts]
        won = await asyncio.gather(*(w.check() for w in watches for _ in range(2)))
    assert sorted(t.type for found in won for t in found) == ["instance.invalid"]
    rows = await delivery_support.rows(
        api.container, tables.deliveries, tables.deliveries.c.kind == "operations"
    )
    assert len(rows) == 1


async def _age(api: RunningApi, iid: int, *, hours: float) -> None:
    """Make the instance's notifications look ``hours`` older than they are."""
    d = tables.deliveries.c
    found = await delivery_support.rows(
        api.container, tables.deliveries, d.instance_id == iid, d.kind != "operations"
    )
    async with db.transaction(api.container.engine) as conn:
        for row in found:
            await conn.execute(
                sa.update(tables.deliveries)
                .where(d.id == row.id)
                .values(created_at=row.created_at - dt.timedelta(hours=hours))
            )


async def _any(api: RunningApi, *where: Any) -> bool:
    return bool(await delivery_support.rows(api.container, tables.deliveries, *where))


async def _none_undelivered(api: RunningApi, iid: int) -> bool:
    d = tables.deliveries.c
    waiting = await delivery_support.rows(
        api.container,
        tables.deliveries,
        d.instance_id == iid,
        d.kind != "operations",
        d.status.in_(("created", "retry", "queued")),
    )
    return not waiting


@pytest.mark.api(
    element_settings=FAST_ACTON,
    poller_failure_limit=1,
    retry_schedule=(0.05,),
    tick_seconds=0.02,
    alert_check_seconds=0.05,
)
async def test_the_worker_checks_by_itself_and_a_refused_notice_fails_alone(
    api: RunningApi, receiver_factory: Any
) -> None:
    refusing = receiver_factory(fail="500")
    callbacks = receiver_factory()
    auth, iid = await _setup(api, refusing, {"event.notification.callback.url": callbacks.url})
    api.sandbox.state.faults.add({"kind": "status", "status": 500, "count": 1})
    assert (await run_poller(api.container, iid)).status == "unavailable"
    d = tables.deliveries.c
    async with delivery_support.running_worker(api.container):
        await delivery_support.eventually(
            lambda: _any(api, d.kind == "operations", d.status == "failed"),
            what="the operations notification failed",
        )
    assert [n["type"] for n in map(json.loads, (a["body"] for a in refusing.arrivals))] == [
        "poller.disabled",
        "poller.disabled",
    ], "tried twice: the first attempt and one retry"
    (instance,) = await delivery_support.rows(
        api.container, tables.instances, tables.instances.c.id == iid
    )
    assert instance.subscription_active is True, "the event subscription is not touched"
    log = await api.call(
        "GET", "notifications/subscriptions/deliveries?where=kind='operations'", auth=auth
    )
    (failed,) = log.json
    assert failed["status"] == "failed" and len(failed["attempts"]) == 2
    assert "retries exhausted" in failed["lastError"]
