"""`headwater worker` processes SIGKILLed mid-send, again and again: every notification still
arrives at least once, a repeat carries the same eventId and the same bytes, nothing is lost, and
each instance's notifications arrive in order.

Two workers run at once against one database (each kill is replaced at once, so a fresh process
boots while the other keeps sending). A kill is aimed at a worker that holds the lease of a
delivery whose request has reached the receiver and is still waiting for its answer. 20 kills in
``make test``; ``HEADWATER_SOAK=1`` (``make soak``) makes it 200.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import bootstrap
from headwater.storage import db, tables
from tests import delivery_support as support
from tests.sandbox_fixtures import Receiver

SOAK = os.environ.get("HEADWATER_SOAK") == "1"
KILLS = 200 if SOAK else 20
INSTANCES = 6
WORKERS = 3  # alive at once, each sending for up to 2 instances
NOTIFICATIONS_PER_INSTANCE = max(20, KILLS // 2)
EVENTS_PER_NOTIFICATION = 3
ANSWER_AFTER_SECONDS = 0.1  # the receiver holds each request this long: the kill window

pytestmark = [pytest.mark.soak, pytest.mark.timeout(1800 if SOAK else 300)]


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
        self.log_of: dict[int, Path] = {}
        self.started = 0

    def start(self) -> None:
        self.started += 1
        path = self.logs / f"worker-{self.started}.log"
        with path.open("wb") as log:
            process = subprocess.Popen(
                [_headwater(), "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.log_of[process.pid] = path
        self.alive.append(process)

    def check_alive(self) -> None:
        """Fail at once, with its log, when a worker stopped without being killed."""
        for process in self.alive:
            if process.poll() is not None:
                log = self.log_of[process.pid].read_text(errors="replace")[-3000:]
                pytest.fail(f"a worker exited by itself ({process.returncode}):\n{log}")

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


async def _in_flight(c: bootstrap.Container) -> dict[int, list[int]]:
    """Deliveries leased right now, by the pid of the worker holding them (node ids are
    ``host:pid:random``)."""
    d = tables.deliveries
    query = sa.select(d.c.id, d.c.lease_owner).where(
        d.c.status.in_(("created", "retry")),
        d.c.lease_owner.is_not(None),
        d.c.lease_until > dt.datetime.now(dt.UTC),
    )
    async with db.reading(c.engine) as conn:
        leased = (await conn.execute(query)).all()
    owners: dict[int, list[int]] = defaultdict(list)
    for delivery_id, owner in leased:
        owners[int(owner.split(":")[-2])].append(delivery_id)
    return owners


async def test_killed_workers_lose_nothing(
    db_url: str, tmp_path: Path, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory(fail=f"timeout:{ANSWER_AFTER_SECONDS}")
    settings = support.settings_for(db_url, tmp_path / "data")
    rng = random.Random(os.environ.get("HEADWATER_CRASH_SEED", "5"))
    env = {
        **os.environ,
        "HEADWATER_DATABASE_URL": db_url,
        "HEADWATER_DATA_DIR": str(tmp_path / "data"),
        "HEADWATER_SECRET_KEY": support.SECRET_KEY,
        "HEADWATER_ALLOW_PRIVATE_CALLBACKS": "1",
        "HEADWATER_RETRY_SCHEDULE": "1,1,1,1,1",
        "HEADWATER_DELIVERY_TIMEOUT_SECONDS": "1",
        "HEADWATER_DELIVERY_LEASE_SECONDS": "1",
        "HEADWATER_DELIVERY_CONCURRENCY": "2",
        "HEADWATER_TICK_SECONDS": "0.02",
    }
    workers = Workers(env, tmp_path)
    kills = in_flight_at_kill = 0
    started = time.monotonic()
    async with support.container(settings) as c:
        order: dict[int, list[str]] = {}
        for _ in range(INSTANCES):
            instance_id = await support.make_instance(
                c, callback_url=receiver.url, key=receiver.secret
            )
            found = [
                support.contact(instance_id, n)
                for n in range(NOTIFICATIONS_PER_INSTANCE * EVENTS_PER_NOTIFICATION)
            ]
            # one poll's worth of events at a time, so notifications carry 3 events each
            for at in range(0, len(found), EVENTS_PER_NOTIFICATION):
                await support.add_events(c, instance_id, found[at : at + EVENTS_PER_NOTIFICATION])
            rows = await support.rows(
                c, tables.deliveries, tables.deliveries.c.instance_id == instance_id
            )
            order[instance_id] = [row.notification_id for row in rows]
        total = sum(len(ids) for ids in order.values())

        for _ in range(WORKERS):
            workers.start()
        try:
            seen = 0
            deadline = time.monotonic() + (1500 if SOAK else 240)
            while kills < KILLS:
                assert time.monotonic() < deadline, f"only {kills} kills before the deadline"
                workers.check_alive()
                if len(receiver.arrivals) == seen:
                    await asyncio.sleep(0.005)
                    continue
                seen = len(receiver.arrivals)
                await asyncio.sleep(rng.uniform(0, ANSWER_AFTER_SECONDS * 0.8))
                owners = await _in_flight(c)
                victims = [pid for pid in owners if any(p.pid == pid for p in workers.alive)]
                if not victims:
                    continue
                victim = rng.choice(victims)
                if workers.kill(victim):
                    kills += 1
                    in_flight_at_kill += len(owners[victim])
                    workers.start()

            async def all_delivered() -> bool:
                workers.check_alive()
                statuses = await support.rows(c, tables.deliveries)
                return {row.status for row in statuses} == {"delivered"}

            await support.eventually(all_delivered, timeout=120, what="every delivery delivered")
        finally:
            workers.stop_all()
        events = await support.rows(c, tables.events)

    arrivals = list(receiver.arrivals)
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for arrival in arrivals:
        by_id[arrival["eventId"]].append(arrival)
    expected = {nid for ids in order.values() for nid in ids}
    lost = expected - set(by_id)
    repeats = len(arrivals) - len(by_id)
    print(
        f"\ndelivery crash test ({'postgresql' if 'postgresql' in db_url else 'sqlite'}): "
        f"kills={kills} in_flight_at_kill={in_flight_at_kill} workers_started={workers.started} "
        f"notifications={total} arrivals={len(arrivals)} repeats={repeats} lost={len(lost)} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    assert kills == KILLS and in_flight_at_kill >= KILLS
    assert not lost
    assert set(by_id) == expected  # nothing that was not a notification
    for copies in by_id.values():
        assert {a["body"] for a in copies} == {copies[0]["body"]}  # same bytes every time
        assert all(a["verified"] for a in copies)
        assert support.message(copies[0])["eventId"] == copies[0]["eventId"]
    assert repeats > 0, "no kill landed between a request and its recording"
    position = {nid: i for ids in order.values() for i, nid in enumerate(ids)}
    per_instance: dict[int, list[int]] = defaultdict(list)
    for arrival in arrivals:
        per_instance[support.message(arrival)["instanceId"]].append(position[arrival["eventId"]])
    for instance_id, positions in per_instance.items():
        assert positions == sorted(positions), f"instance {instance_id} out of order"
    assert {e.status for e in events} == {"NOTIFIED"}
