"""`headwater worker` processes SIGKILLed at random points of their Mailchimp polls while the
sandbox's members keep changing (subscribes, profile changes, touches, email changes and archives,
stamped to the second): after a final quiet poll, no change is missed and none is reported twice.

As ``test_poller_crash`` does for Act-On: three instances of the shipped ``mailchimp`` element
with its default poller configuration (every second, each over every audience, three members a
page, answers slowed down a little), two workers at once, a kill aimed at a worker holding a
poller's lease, a random moment into that poll, and the killed worker replaced at once. 12 kills
in ``make test``; ``HEADWATER_SOAK=1`` makes it 120. The figures are printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.instances import service as instance_service
from headwater.sandbox.mailchimp import changes, filters
from headwater.settings import Settings
from headwater.storage import db, pollers, tables, tenants
from tests.acceptance import test_poller_crash as crash
from tests.api_fixtures import CALLBACK_URL, TEST_SECRET_KEY
from tests.mailchimp_fixtures import MailchimpSandbox
from tests.sandbox_fixtures import Receiver

SOAK = os.environ.get("HEADWATER_SOAK") == "1"
KILLS = 120 if SOAK else 12
INSTANCES = 3
WORKERS = 2

pytestmark = [
    pytest.mark.soak,
    pytest.mark.timeout(3600 if SOAK else 400),
    pytest.mark.mailchimp_sandbox(lists=3, members=6),
]

Key = tuple[int, str, str, str]  # last_changed (s), email, status, FNAME


def _key(member: dict[str, Any]) -> Key:
    changed = dt.datetime.fromisoformat(str(member["last_changed"]))
    fname = str((member.get("merge_fields") or {}).get("FNAME", ""))
    return int(changed.timestamp()), member["email_address"], member["status"], fname


def _members(sandbox: MailchimpSandbox) -> dict[str, Key]:
    """Every listed (not archived) member of every audience, by id."""
    store = sandbox.state.store
    with store.lock:
        return {
            m.id: _key(m.to_json(audience.id))
            for audience in store.lists()
            for m in store.query(audience.id, filters.Query())
        }


async def _mutate(sandbox: MailchimpSandbox, rng: random.Random, stop: asyncio.Event) -> int:
    """Random batches, each stamped with the sandbox's current second, until ``stop``; returns
    the count of operations applied."""
    store = sandbox.state.store
    emails = itertools.count(1)
    applied = 0
    lists = [audience.id for audience in store.lists()]
    while not stop.is_set():
        with store.lock:
            live = [
                (audience.id, m.email)
                for audience in store.lists()
                for m in store.query(audience.id, filters.Query())
            ]
        ops: list[dict[str, Any]] = []
        used: set[str] = set()
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(("create", "update", "update", "touch", "rename", "archive"))
            free = [t for t in live if t[1] not in used]
            if kind == "create" or not free:
                email = f"crash{next(emails)}@example.com"
                ops.append({"op": "create", "list": rng.choice(lists), "email": email})
                continue
            list_id, email = rng.choice(free)
            used.add(email)  # one operation per member per batch: the batch stays valid
            op: dict[str, Any] = {"op": kind, "list": list_id, "email": email}
            if kind == "update":
                op["mergeFields"] = {"FNAME": rng.choice("abc")}
            elif kind == "rename":
                op = {**op, "op": "update", "newEmail": f"crash{next(emails)}@example.com"}
            ops.append(op)
        changes.apply_batch(store, ops, at=store.now())
        applied += len(ops)
        await asyncio.sleep(rng.uniform(0.01, 0.08))
    return applied


def _check(found: list[Any], baseline: dict[str, Key], final: dict[str, Key]) -> tuple[int, int]:
    """Misses and duplicates among one instance's events (in id order)."""
    reported: dict[str, list[Key]] = defaultdict(list)
    deleted: dict[str, int] = defaultdict(int)
    duplicates = 0
    for event in found:
        if event.event_type == "DELETED":
            deleted[event.object_id] += 1
            continue
        key = _key(event.raw)
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
        f"{oid}: archived or renamed, not reported"
        for oid in known
        if oid not in final and not deleted[oid]
    ]
    missed += [f"{oid}: DELETED but listed" for oid in deleted if oid in final]
    for line in missed[:10]:
        print("miss:", line)
    return len(missed), duplicates


async def test_killed_mailchimp_pollers_miss_nothing_and_repeat_nothing(
    db_url: str, tmp_path: Path, mailchimp_sandbox: MailchimpSandbox, receiver: Receiver
) -> None:
    rng = random.Random(os.environ.get("HEADWATER_CRASH_SEED", "4"))
    sandbox = mailchimp_sandbox
    elements = {
        "HEADWATER_MAILCHIMP_LOGIN_URL": sandbox.url,
        "HEADWATER_MAILCHIMP_RATE_PER_SECOND": "1000",
    }
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        element_settings=elements,
        allow_private_callbacks=True,
        min_refresh_seconds=1.0,
    )
    env = {
        **os.environ,
        **elements,
        "HEADWATER_DATABASE_URL": db_url,
        "HEADWATER_DATA_DIR": str(tmp_path / "data"),
        "HEADWATER_SECRET_KEY": TEST_SECRET_KEY,
        "HEADWATER_ALLOW_PRIVATE_CALLBACKS": "1",
        "HEADWATER_MIN_REFRESH_SECONDS": "1",
        "HEADWATER_TICK_SECONDS": "0.05",
        "HEADWATER_POLL_LEASE_SECONDS": "2",
        "HEADWATER_POLL_OVERLAP_SECONDS": "0",
        "HEADWATER_RECONCILE_INTERVAL_SECONDS": "3",
    }
    sandbox.state.faults.add({"kind": "latency", "path": "/3.0/lists/", "delay": 0.03})
    workers = crash.Workers(env, tmp_path)
    kills = mid_poll = 0
    started = time.monotonic()
    async with crash._container(settings) as c:
        async with db.transaction(c.engine) as conn:
            tenant = await tenants.create(
                conn, organization_name="Crash", now=dt.datetime.now(dt.UTC)
            )
        principal = tenants.Principal(tenant.organization_id, tenant.user_id)
        default = c.registry.get("mailchimp").declaration.events.poller_configuration
        configuration: dict[str, Any] = {
            "oauth.api.key": sandbox.client_id,
            "oauth.api.secret": sandbox.client_secret,
            "oauth.callback.url": CALLBACK_URL,
            "event.notification.enabled": True,
            "event.vendor.type": "polling",
            "event.poller.refresh_interval": 1 / 60,
            "event.notification.callback.url": receiver.url,
            "event.poller.configuration": {"contacts": {**default["contacts"], "pageSize": 3}},
        }
        instance_ids: list[int] = []
        for n in range(INSTANCES):
            code = await asyncio.to_thread(sandbox.authorize_code, CALLBACK_URL)
            created = await c.instances.create(
                principal,
                instance_service.InstanceInput(
                    element_key="mailchimp",
                    name=f"crash {n}",
                    configuration=configuration,
                    code=code,
                ),
            )
            instance_ids.append(created.id)
        baseline = _members(sandbox)

        stop = asyncio.Event()
        for _ in range(WORKERS):
            workers.start()
        first_deadline = time.monotonic() + 60
        while not await crash._first_runs_done(c):
            assert time.monotonic() < first_deadline, "the first polls did not happen"
            await asyncio.sleep(0.05)
        mutator = asyncio.create_task(_mutate(sandbox, rng, stop))
        try:
            deadline = time.monotonic() + (3000 if SOAK else 300)
            while kills < KILLS:
                assert time.monotonic() < deadline, f"only {kills} kills before the deadline"
                leased = await crash._leased(c)
                alive = {p.pid for p in workers.alive}
                victims = sorted({pid for pid in leased.values() if pid in alive})
                if not victims:
                    await asyncio.sleep(0.01)
                    continue
                await asyncio.sleep(rng.uniform(0, 0.3))  # somewhere into the poll
                victim = rng.choice(victims)
                still_polling = victim in (await crash._leased(c)).values()
                if workers.kill(victim):
                    kills += 1
                    mid_poll += still_polling
                    workers.start()
            stop.set()
            applied = await mutator
            quiet = dt.datetime.now(dt.UTC)
            async with db.transaction(c.engine) as conn:
                for row in (await conn.execute(sa.select(tables.pollers))).all():
                    await pollers.request_run(conn, row.id, now=quiet, reconcile=True)
            settle_deadline = time.monotonic() + 60
            while not await crash._settled(c, quiet):
                assert time.monotonic() < settle_deadline, "the pollers did not settle"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            if not mutator.done():
                mutator.cancel()
            workers.stop_all()
        final = _members(sandbox)
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
        f"\nmailchimp poller crash test ({kind}): runs={workers.started} kills={kills} "
        f"kills_mid_poll={mid_poll} changes={applied} "
        f"events={events} misses={misses} duplicates={duplicates} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    assert kills == KILLS and mid_poll >= KILLS // 2
    assert applied > 0 and events > 0
    assert (misses, duplicates) == (0, 0)
