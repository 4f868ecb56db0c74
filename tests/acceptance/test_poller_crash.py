"""`headwater worker` processes SIGKILLed at random points of their polls while the sandbox's
contacts keep changing: after a final quiet poll, no change is missed and none is reported twice.

Three polling instances (every second, each over every list, a few records a page, answers slowed
down a little) and two workers at once. A kill is aimed at a worker that holds a poller's lease,
a random moment into that poll, and the killed worker is replaced at once. 20 kills in
``make test``; ``HEADWATER_SOAK=1`` (``make soak``) makes it 200. The figures are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.instances import service as instance_service
from headwater.settings import Settings
from headwater.storage import db, pollers, tables, tenants
from tests.api_fixtures import CALLBACK_URL, TEST_SECRET_KEY, docs_configuration
from tests.sandbox_fixtures import ActonSandbox, Receiver

SOAK = os.environ.get("HEADWATER_SOAK") == "1"
KILLS = 200 if SOAK else 20
INSTANCES = 3
WORKERS = 2
DATES = ("_contact_id_", "__created_date", "__modified_date")

pytestmark = [
    pytest.mark.soak,
    pytest.mark.timeout(3600 if SOAK else 400),
    pytest.mark.acton_sandbox(lists=3, contacts=6),
]

Key = tuple[int, frozenset[tuple[str, str]]]


def _headwater() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater command is not installed next to this Python"
    return found


class Workers:
    """`headwater worker` processes: started, SIGKILLed, and stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.alive: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> None:
        self.started += 1
        with (self.logs / f"worker-{self.started}.log").open("wb") as log:
            process = subprocess.Popen(
                [_headwater(), "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.alive.append(process)

    def kill(self, pid: int) -> bool:
        for process in self.alive:
            if process.pid == pid and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                self.alive.remove(process)
                return True
        return False

    def stop_all(self) -> None:
        for process in self.alive:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.alive:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.alive.clear()


def _settings(db_url: str, sandbox: ActonSandbox, data_dir: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=data_dir,
        secret_key=TEST_SECRET_KEY,
        element_settings={"HEADWATER_ACTON_BASE_URL": sandbox.url},
        allow_private_callbacks=True,
        min_refresh_seconds=1.0,
    )


@contextlib.asynccontextmanager
async def _container(settings: Settings) -> AsyncIterator[bootstrap.Container]:
    async with bootstrap.container(settings, loops=False) as container:
        yield container


def _key(modified_ms: int, fields: dict[str, Any]) -> Key:
    return modified_ms, frozenset(
        (k, str(v)) for k, v in fields.items() if k not in DATES and v != ""
    )


def _contacts(sandbox: ActonSandbox) -> dict[str, Key]:
    store = sandbox.state.store
    with store.lock:
        return {
            found.contact_id(c.number): _key(c.modified_ms, c.values)
            for found in store.lists()
            for c in found.contacts.values()
        }


async def _mutate(sandbox: ActonSandbox, rng: random.Random, stop: asyncio.Event) -> int:
    """Random batches of creates, updates, touches and deletes until ``stop``; returns the count
    of operations applied."""
    applied = 0
    lists = [found.id for found in sandbox.state.store.lists()]
    while not stop.is_set():
        live = sorted(_contacts(sandbox))
        ops: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(("create", "update", "update", "touch", "delete"))
            if kind == "create" or not live:
                values = {"Job Title": rng.choice("abc")}
                ops.append({"op": "create", "list": rng.choice(lists), "values": values})
                continue
            target = rng.choice(live)
            if kind == "delete":
                live.remove(target)
                ops.append({"op": "delete", "id": target})
            elif kind == "update":
                ops.append(
                    {"op": "update", "id": target, "values": {"Job Title": rng.choice("abc")}}
                )
            else:
                ops.append({"op": "touch", "id": target})
        sandbox.state.batch(ops)
        applied += len(ops)
        await asyncio.sleep(rng.uniform(0.01, 0.08))
    return applied


async def _leased(c: bootstrap.Container) -> dict[int, int]:
    """Pollers leased right now, by the pid of the worker holding them (``host:pid:random/n``)."""
    p = tables.pollers
    query = sa.select(p.c.id, p.c.lease_owner).where(
        p.c.lease_owner.is_not(None), p.c.lease_until > dt.datetime.now(dt.UTC)
    )
    async with db.reading(c.engine) as conn:
        rows = (await conn.execute(query)).all()
    return {row.id: int(row.lease_owner.split("/")[0].split(":")[-2]) for row in rows}


async def _settled(c: bootstrap.Container, since: dt.datetime) -> bool:
    """Every poller polled and reconciled after ``since``, without an error."""
    async with db.reading(c.engine) as conn:
        rows = (await conn.execute(sa.select(tables.pollers))).all()
    return all(
        row.last_run_at is not None
        and row.last_run_at > since
        and row.next_reconcile_at is not None
        and row.next_reconcile_at > since
        and row.last_error is None
        and row.lease_owner is None
        for row in rows
    )


async def _first_runs_done(c: bootstrap.Container) -> bool:
    async with db.reading(c.engine) as conn:
        rows = (await conn.execute(sa.select(tables.pollers))).all()
    return bool(rows) and all(row.next_reconcile_at is not None for row in rows)


def _check(found: list[Any], baseline: dict[str, Key], final: dict[str, Key]) -> tuple[int, int]:
    """Misses and duplicates among one instance's events (in id order)."""
    reported: dict[str, list[Key]] = defaultdict(list)
    deleted: dict[str, int] = defaultdict(int)
    duplicates = 0
    for event in found:
        if event.event_type == "DELETED":
            deleted[event.object_id] += 1
            continue
        key = _key(int(event.raw["__modified_date"]), event.raw)
        earlier = reported[event.object_id]
        duplicates += bool(earlier) and earlier[-1] == key
        earlier.append(key)
    duplicates += sum(count - 1 for count in deleted.values() if count > 1)
    missed = [
        f"{oid}: {key} not reported (last: {reported[oid][-1:] or None})"
        for oid, key in final.items()
        if baseline.get(oid) != key and (not reported[oid] or reported[oid][-1] != key)
    ]
    known = set(reported) | set(baseline)
    missed += [
        f"{oid}: deleted, not reported" for oid in known if oid not in final and not deleted[oid]
    ]
    missed += [f"{oid}: DELETED but alive" for oid in deleted if oid in final]
    for line in missed[:10]:
        print("miss:", line)
    return len(missed), duplicates


async def test_killed_pollers_miss_nothing_and_repeat_nothing(
    db_url: str, tmp_path: Path, acton_sandbox: ActonSandbox, receiver: Receiver
) -> None:
    rng = random.Random(os.environ.get("HEADWATER_CRASH_SEED", "4"))
    settings = _settings(db_url, acton_sandbox, tmp_path / "data")
    env = {
        **os.environ,
        "HEADWATER_DATABASE_URL": db_url,
        "HEADWATER_DATA_DIR": str(tmp_path / "data"),
        "HEADWATER_SECRET_KEY": TEST_SECRET_KEY,
        "HEADWATER_ACTON_BASE_URL": acton_sandbox.url,
        "HEADWATER_ALLOW_PRIVATE_CALLBACKS": "1",
        "HEADWATER_MIN_REFRESH_SECONDS": "1",
        "HEADWATER_TICK_SECONDS": "0.05",
        "HEADWATER_POLL_LEASE_SECONDS": "2",
        "HEADWATER_POLL_OVERLAP_SECONDS": "0",
        "HEADWATER_RECONCILE_INTERVAL_SECONDS": "3",
        "HEADWATER_ACTON_RATE_PER_SECOND": "1000",
    }
    acton_sandbox.state.faults.add({"kind": "latency", "path": "/api/1/list/", "delay": 0.03})
    workers = Workers(env, tmp_path)
    kills = mid_poll = 0
    started = time.monotonic()
    async with _container(settings) as c:
        async with db.transaction(c.engine) as conn:
            tenant = await tenants.create(
                conn, organization_name="Crash", now=dt.datetime.now(dt.UTC)
            )
        principal = tenants.Principal(tenant.organization_id, tenant.user_id)
        configuration = docs_configuration(acton_sandbox)
        configuration["event.poller.refresh_interval"] = 1 / 60
        configuration["event.notification.callback.url"] = receiver.url
        configuration["event.poller.configuration"]["contacts"]["pageSize"] = 3
        instance_ids: list[int] = []
        for n in range(INSTANCES):
            code = await asyncio.to_thread(acton_sandbox.authorize_code, CALLBACK_URL)
            created = await c.instances.create(
                principal,
                instance_service.InstanceInput(
                    element_key="acton", name=f"crash {n}", configuration=configuration, code=code
                ),
            )
            instance_ids.append(created.id)
        baseline = _contacts(acton_sandbox)

        stop = asyncio.Event()
        for _ in range(WORKERS):
            workers.start()
        first_deadline = time.monotonic() + 60
        while not await _first_runs_done(c):  # each poller has learned the ids there are
            assert time.monotonic() < first_deadline, "the first polls did not happen"
            await asyncio.sleep(0.05)
        mutator = asyncio.create_task(_mutate(acton_sandbox, rng, stop))
        try:
            deadline = time.monotonic() + (3000 if SOAK else 300)
            while kills < KILLS:
                assert time.monotonic() < deadline, f"only {kills} kills before the deadline"
                leased = await _leased(c)
                alive = {p.pid for p in workers.alive}
                victims = sorted({pid for pid in leased.values() if pid in alive})
                if not victims:
                    await asyncio.sleep(0.01)
                    continue
                await asyncio.sleep(rng.uniform(0, 0.3))  # somewhere into the poll
                victim = rng.choice(victims)
                still_polling = victim in (await _leased(c)).values()
                if workers.kill(victim):
                    kills += 1
                    mid_poll += still_polling
                    workers.start()
            stop.set()
            changes = await mutator
            quiet = dt.datetime.now(dt.UTC)
            async with db.transaction(c.engine) as conn:
                for row in (await conn.execute(sa.select(tables.pollers))).all():
                    await pollers.request_run(conn, row.id, now=quiet, reconcile=True)
            settle_deadline = time.monotonic() + 60
            while not await _settled(c, quiet):
                assert time.monotonic() < settle_deadline, "the pollers did not settle"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            if not mutator.done():
                mutator.cancel()
            workers.stop_all()
        final = _contacts(acton_sandbox)
        misses = duplicates = events = 0
        e = tables.events
        for instance_id in instance_ids:
            async with db.reading(c.engine) as conn:
                found = (
                    await conn.execute(
                        sa.select(e).where(e.c.instance_id == instance_id).order_by(e.c.id)
                    )
                ).all()
            events += len(found)
            missed, repeated = _check(list(found), baseline, final)
            misses += missed
            duplicates += repeated

    kind = "postgresql" if "postgresql" in db_url else "sqlite"
    print(
        f"\npoller crash test ({kind}): runs={workers.started} kills={kills} "
        f"kills_mid_poll={mid_poll} changes={changes} "
        f"events={events} misses={misses} duplicates={duplicates} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    assert kills == KILLS and mid_poll >= KILLS // 2
    assert changes > 0 and events > 0
    assert (misses, duplicates) == (0, 0)
