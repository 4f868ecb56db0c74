"""An instance's provider calls keep its element's pace across processes (PostgreSQL): two
limiters with their own engines, as two workers have, share the account's slots and holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.elements import limits
from headwater.instances import rate
from headwater.storage import db, instances, rate_limits, tenants

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
RATE = 20.0  # one call every 50 ms


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    if db_url.startswith("sqlite"):
        pytest.skip("one process serves SQLite: its limiter is the process's own")
    pair = (db.make_engine(db_url), db.make_engine(db_url))
    yield pair
    for engine in pair:
        await engine.dispose()


async def _instance(engine: AsyncEngine) -> int:
    async with db.transaction(engine) as conn:
        tenant = await tenants.create(conn, organization_name="Acme", now=NOW)
        return await instances.insert(
            conn,
            instances.NewInstance(
                organization_id=tenant.organization_id,
                user_id=tenant.user_id,
                element_key="acton",
                name="rate",
                tags=[],
                token_hash=uuid.uuid4().hex,
                configuration={},
                secrets="",
                provider_tokens=None,
                token_expires_at=None,
                valid=True,
                invalid_reason=None,
                disabled=False,
                events_enabled=False,
                subscription_active=True,
                created_at=NOW,
                updated_at=NOW,
            ),
        )


async def test_two_processes_share_one_instances_pace(
    engines: tuple[AsyncEngine, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = await _instance(engines[0])
    first, second = (
        rate.SharedRateLimiter(engine, iid, limits.RateLimiter(RATE)) for engine in engines
    )
    slots: list[int] = []  # what the database granted, seen on the way out
    reserve = rate_limits.reserve

    async def granted(*args: Any, **kwargs: Any) -> int:
        slot = await reserve(*args, **kwargs)
        slots.append(slot)
        return slot

    monkeypatch.setattr(rate_limits, "reserve", granted)
    times: list[float] = []

    async def call(limiter: rate.SharedRateLimiter) -> None:
        await limiter.acquire()
        times.append(time.time() * 1000)

    await asyncio.gather(*(call(first if n % 2 else second) for n in range(12)))
    # each process alone would let its own six through 50 ms apart, side by side with the
    # other's: shared, the twelve slots are spaced across both
    slots.sort()
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert len(slots) == 12 and min(gaps) >= 50, gaps
    # and each call waited for its slot (a loaded machine may wake one late, never early): the
    # k-th call through came no earlier than the k-th slot
    early = [(t, slot) for t, slot in zip(sorted(times), slots, strict=True) if t < slot - 5]
    assert early == [], early


async def test_a_providers_wait_holds_back_the_other_process(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    iid = await _instance(engines[0])
    first, second = (
        rate.SharedRateLimiter(engine, iid, limits.RateLimiter(RATE)) for engine in engines
    )
    await first.acquire()
    first.hold(0.5)
    assert first.held_for() > 0.4
    await first.shared()
    started = time.monotonic()
    await second.acquire()
    assert time.monotonic() - started >= 0.4
