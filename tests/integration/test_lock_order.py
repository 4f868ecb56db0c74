"""Configuration changes while polls and deliveries run, on PostgreSQL: no deadlock, no 5xx.

PATCH and PUT of instances, runs asked for, instances enabled, disabled, created and deleted, all
in loops for a while, while the background loops poll the sandbox (whose contacts keep changing)
and deliver to the receiver. Every writer takes its row locks in the order that
``headwater.storage.db`` documents; PostgreSQL's own deadlock counter must not move.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from tests.api_fixtures import RunningApi, api_settings, running_api
from tests.sandbox_fixtures import ActonSandbox, Receiver

PAST = int(time.time() * 1000) - 2 * 3600 * 1000
SECOND_IN_MINUTES = 1 / 60
SOAK_SECONDS = 15.0
MAX_CALLS_PER_LOOP = 600
INSTANCES = 3
URL = "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'"

pytestmark = [
    pytest.mark.acton_sandbox(frozen_at_ms=PAST, lists=2, contacts=6, rate_per_second=10_000),
    pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True),
]


async def _deadlocks(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(value or 0)


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _resources(variant: int) -> dict[str, Any]:
    """Poller configurations that differ in what they change: the page size only (the cursor
    stays), the query (the versions are forgotten), or a second resource (a poller row comes and
    goes)."""
    contacts: dict[str, Any] = {
        "url": URL if variant % 2 == 0 else URL.replace("${epoch}", "${epoch:ms}"),
        "idField": "_contact_id_",
        "pageSize": 50 + variant,
        "datesConfiguration": {
            "updatedDateField": "__modified_date",
            "updatedDateFormat": "milliseconds",
            "createdDateField": "__created_date",
            "createdDateFormat": "milliseconds",
        },
    }
    found = {"contacts": contacts}
    if variant % 3 == 0:
        found["accounts"] = contacts | {
            "url": "/hubs/marketing/lists/l-0002/contacts?where=modafter='${epoch}'"
        }
    return found


class _Load:
    """The calls made, by method and status, and whether the time or the count ran out."""

    def __init__(self, api: RunningApi, auth: str) -> None:
        self.api = api
        self.auth = auth
        self.deadline = time.monotonic() + SOAK_SECONDS
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []

    def going(self, calls: int) -> bool:
        return time.monotonic() < self.deadline and calls < MAX_CALLS_PER_LOOP

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = await self.api.call(method, path, auth=self.auth, **kwargs)
        self.statuses[(method, reply.status)] += 1
        if reply.status >= 500:
            self.failures.append(f"{method} {path}: {reply.status} {reply.text[:300]}")
        return reply


async def _patches(load: _Load, iid: int) -> None:
    for n in itertools.count():
        if not load.going(n):
            return
        configuration: dict[str, Any] = {"event.poller.configuration": _resources(n)}
        if n % 4 == 1:
            configuration["event.poller.refresh_interval"] = SECOND_IN_MINUTES * (1 + n % 3)
        await load.call("PATCH", f"instances/{iid}", json={"configuration": configuration})


async def _replacements(load: _Load, iid: int, receiver: Receiver) -> None:
    for n in itertools.count():
        if not load.going(n):
            return
        body = load.api.docs_body(
            "unused",
            {
                "event.notification.callback.url": receiver.url,
                "event.poller.refresh_interval": SECOND_IN_MINUTES,
                "event.poller.configuration": _resources(n + 1),
            },
        )
        body.pop("providerData")
        await load.call("PUT", f"instances/{iid}", json=body)
        await load.call("POST", f"instances/{iid}/pollers/contacts/run")
        if n % 5 == 4:
            await load.call("DELETE", f"instances/{iid}/enabled")
            await load.call("PUT", f"instances/{iid}/enabled")


async def _comings_and_goings(load: _Load, receiver: Receiver) -> None:
    overrides = {
        "event.notification.callback.url": receiver.url,
        "event.poller.refresh_interval": SECOND_IN_MINUTES,
    }
    for n in itertools.count():
        if not load.going(n * 4):
            return
        created = await load.api.create_instance(overrides, load.auth)
        load.statuses[("POST", 200)] += 1
        await load.call("POST", f"instances/{created['id']}/pollers/contacts/run")
        await asyncio.sleep(0.2 + 0.1 * (n % 4))  # let a poll of it begin
        await load.call("DELETE", f"instances/{created['id']}")
        await load.call(
            "PUT", "notifications/subscriptions/deliveries", params={"where": "status='queued'"}
        )


async def _changes(load: _Load, sandbox: ActonSandbox) -> None:
    for n in itertools.count():
        if not load.going(0):
            return
        sandbox.state.batch(
            [
                {"op": "touch", "id": f"l-0001:{1 + n % 3}"},
                {"op": "touch", "id": f"l-0002:{1 + (n * 2) % 3}"},
            ]
        )
        await asyncio.sleep(0.05)


async def test_configuration_changes_during_polls_and_sends_never_deadlock(
    db_url: str, acton_sandbox: ActonSandbox, receiver: Receiver, tmp_path: Path
) -> None:
    acton_sandbox.state.clock.reset()
    settings = api_settings(
        db_url,
        acton_sandbox,
        tmp_path / "data",
        tick_seconds=0.05,
        element_settings={"HEADWATER_ACTON_RATE_PER_SECOND": "10000"},
        retry_schedule=(0.2, 0.4),
    )
    deadlocks_before = await _deadlocks(db_url)
    retries_before = _sample("headwater_transaction_retries_total", {"reason": "deadlock"})
    polls_before = _sample("headwater_polls_total", {"outcome": "ok"})
    async with running_api(settings, acton_sandbox, loops=True) as api:
        auth = await api.create_user()
        overrides = {
            "event.notification.callback.url": receiver.url,
            "event.poller.refresh_interval": SECOND_IN_MINUTES,
        }
        ids = [(await api.create_instance(overrides, auth))["id"] for _ in range(INSTANCES)]
        load = _Load(api, auth)
        await asyncio.gather(
            *(_patches(load, iid) for iid in ids),
            _replacements(load, ids[0], receiver),
            _comings_and_goings(load, receiver),
            _changes(load, acton_sandbox),
        )
        polls = _sample("headwater_polls_total", {"outcome": "ok"}) - polls_before
        retried = (
            _sample("headwater_transaction_retries_total", {"reason": "deadlock"}) - retries_before
        )
    # the server's connections are closed now, so PostgreSQL has counted all they did
    deadlocks = await _deadlocks(db_url) - deadlocks_before

    assert load.failures == [], load.failures
    assert deadlocks == 0, f"{deadlocks} deadlock(s); calls: {dict(load.statuses)}"
    assert retried == 0, "no transaction had to run again after a deadlock"
    changes = sum(n for (method, status), n in load.statuses.items() if method in ("PATCH", "PUT"))
    assert changes >= 50, f"too little load to tell: {dict(load.statuses)}"
    assert polls >= 20, f"only {polls} poll(s) ran meanwhile"
    assert len(receiver.delivered) >= 5, "notifications kept flowing"
