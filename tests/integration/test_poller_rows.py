"""Poller rows on both databases: kept in line with configurations, claimed with leases."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.domain import changes, config, dates
from headwater.storage import db, instances, poller_outcomes, pollers, tenants, versions

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def _resource(
    name: str, url: str = "/hubs/marketing/lists/l-0001/contacts", **kw: object
) -> config.Resource:
    return config.Resource(name=name, url=url, id_field="_contact_id_", **kw)  # type: ignore[arg-type]


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(db_url)
    yield engine
    await engine.dispose()


async def _instance(engine: AsyncEngine, **values: object) -> int:
    async with db.transaction(engine) as conn:
        tenant = await tenants.create(conn, organization_name="Acme", now=NOW)
        row: dict[str, object] = {
            "organization_id": tenant.organization_id,
            "user_id": tenant.user_id,
            "element_key": "acton",
            "name": "test",
            "tags": [],
            "token_hash": uuid.uuid4().hex,
            "configuration": {},
            "secrets": "",
            "provider_tokens": None,
            "token_expires_at": None,
            "invalid_reason": None,
            "valid": True,
            "disabled": False,
            "events_enabled": True,
            "subscription_active": True,
            "created_at": NOW,
            "updated_at": NOW,
        }
        row.update(values)
        return await instances.insert(conn, instances.NewInstance(**row))


async def _sync(
    engine: AsyncEngine,
    iid: int,
    resources: list[config.Resource],
    *,
    active: bool,
    now: dt.datetime,
) -> dict[str, pollers.Row]:
    async with db.transaction(engine) as conn:
        await pollers.sync(
            conn, instance_id=iid, resources={r.name: r for r in resources}, active=active, now=now
        )
        return {row.resource: row for row in await pollers.for_instance(conn, iid)}


async def _claim(
    engine: AsyncEngine, owner: str, now: dt.datetime, limit: int = 10, lease: float = 30
) -> list[pollers.Claimed]:
    async with db.transaction(engine) as conn:
        return await pollers.claim(
            conn, owner=owner, now=now, until=now + lease * SECOND, limit=limit
        )


async def test_sync_creates_keeps_restarts_and_deletes(engine: AsyncEngine) -> None:
    iid = await _instance(engine)
    backfill = dates.to_ms(NOW) - 86_400_000
    rows = await _sync(
        engine,
        iid,
        [_resource("a"), _resource("b", backfill_from_ms=backfill)],
        active=True,
        now=NOW,
    )
    assert rows["a"].cursor_ms == dates.to_ms(NOW) and rows["a"].next_run_at == NOW
    assert rows["b"].cursor_ms == backfill and rows["b"].enabled
    async with db.transaction(engine) as conn:
        await versions.remember(conn, rows["a"].id, {"x": changes.Known(1, "h")})

    later = NOW + 60 * SECOND
    changed = _resource("a", "/hubs/marketing/lists/l-0002/contacts")
    rows = await _sync(
        engine, iid, [changed, _resource("b", backfill_from_ms=backfill)], active=True, now=later
    )
    assert rows["a"].cursor_ms == dates.to_ms(later), "a new query starts afresh"
    assert rows["b"].cursor_ms == backfill, "an unchanged query keeps its cursor"
    async with db.reading(engine) as conn:
        assert await versions.versions(conn, rows["a"].id) == {}

    rows = await _sync(engine, iid, [changed], active=False, now=later)
    assert set(rows) == {"a"} and rows["a"].next_run_at is None
    again = later + 60 * SECOND
    rows = await _sync(engine, iid, [changed], active=True, now=again)
    assert rows["a"].next_run_at == again
    assert rows["a"].cursor_ms == dates.to_ms(again), "a poller that never ran starts when enabled"
    assert rows["a"].start_ms == rows["a"].cursor_ms


async def test_a_poller_starts_one_overlap_before_now_unless_it_backfills(
    engine: AsyncEngine,
) -> None:
    iid = await _instance(engine)
    backfill = dates.to_ms(NOW) - 86_400_000
    resources = {"a": _resource("a"), "b": _resource("b", backfill_from_ms=backfill)}
    async with db.transaction(engine) as conn:
        await pollers.sync(
            conn, instance_id=iid, resources=resources, active=True, now=NOW, overlap_ms=60_000
        )
        rows = {row.resource: row for row in await pollers.for_instance(conn, iid)}
    assert rows["a"].start_ms == rows["a"].cursor_ms == dates.to_ms(NOW) - 60_000
    assert rows["b"].start_ms == rows["b"].cursor_ms == backfill
    later = NOW + 60 * SECOND
    changed = {**resources, "a": _resource("a", "/hubs/marketing/lists/l-0002/contacts")}
    async with db.transaction(engine) as conn:
        await pollers.sync(
            conn, instance_id=iid, resources=changed, active=True, now=later, overlap_ms=60_000
        )
        claimed = await pollers.claim(
            conn, owner="w", now=later, until=later + 30 * SECOND, limit=10
        )
    starts = {c.resource: c.start_ms for c in claimed}
    assert starts == {"a": dates.to_ms(NOW), "b": backfill}, "a new query starts again"


async def test_claim_leases_once_and_expired_leases_are_taken_over(engine: AsyncEngine) -> None:
    iid = await _instance(engine)
    other = await _instance(engine)
    await _sync(engine, iid, [_resource("a")], active=True, now=NOW)
    await _sync(engine, other, [_resource("a")], active=True, now=NOW)
    first = await _claim(engine, "w1", NOW, limit=1)
    assert len(first) == 1 and first[0].lease_owner == "w1" and first[0].due_at == NOW
    second = await _claim(engine, "w2", NOW)
    assert [c.instance_id for c in second] == [other if first[0].instance_id == iid else iid]
    assert await _claim(engine, "w3", NOW) == []

    async with db.transaction(engine) as conn:
        assert await pollers.heartbeat(
            conn, [first[0].id], owner="w1", until=NOW + 60 * SECOND
        ) == {first[0].id}
        assert await pollers.heartbeat(conn, [first[0].id], owner="w9", until=NOW) == set()
    expired = await _claim(engine, "w3", NOW + 45 * SECOND)
    assert [c.id for c in expired] == [second[0].id], "the heartbeat kept the first lease only"
    taken = await _claim(engine, "w4", NOW + 61 * SECOND)
    assert [c.id for c in taken] == [first[0].id] and taken[0].lease_owner == "w4"
    async with db.transaction(engine) as conn:
        assert await pollers.hold(conn, first[0].id, owner="w1") is None
        assert await pollers.hold(conn, first[0].id, owner="w4") is not None


async def test_an_instances_pollers_run_one_after_another(engine: AsyncEngine) -> None:
    iid = await _instance(engine)
    await _sync(engine, iid, [_resource("a"), _resource("b")], active=True, now=NOW)
    one = await _claim(engine, "w1", NOW, limit=1)
    assert len(one) == 1
    assert await _claim(engine, "w2", NOW) == [], "its sibling waits while it runs"
    async with db.transaction(engine) as conn:
        assert await poller_outcomes.finish(
            conn,
            one[0].id,
            owner="w1",
            now=NOW,
            outcome=poller_outcomes.Finish(next_run_at=NOW + 900 * SECOND),
        )
    [sibling] = await _claim(engine, "w2", NOW)
    assert sibling.id != one[0].id


async def test_inactive_instances_and_paused_pollers_are_not_claimed(engine: AsyncEngine) -> None:
    invalid = await _instance(engine, valid=False)
    disabled = await _instance(engine, disabled=True)
    quiet = await _instance(engine, events_enabled=False)
    paused = await _instance(engine)
    for iid in (invalid, disabled, quiet, paused):
        await _sync(engine, iid, [_resource("a")], active=True, now=NOW)
    async with db.transaction(engine) as conn:
        row = await pollers.get(conn, paused, "a")
        await pollers.set_enabled(conn, row.id, enabled=False, active=True, now=NOW)
    assert await _claim(engine, "w1", NOW) == []


async def test_a_run_requested_during_a_poll_runs_right_after(engine: AsyncEngine) -> None:
    iid = await _instance(engine)
    await _sync(engine, iid, [_resource("a")], active=True, now=NOW)
    [claimed] = await _claim(engine, "w1", NOW)
    async with db.transaction(engine) as conn:
        await pollers.request_run(conn, claimed.id, now=NOW + SECOND)
    done = NOW + 2 * SECOND
    async with db.transaction(engine) as conn:
        assert await poller_outcomes.finish(
            conn,
            claimed.id,
            owner="w1",
            now=done,
            outcome=poller_outcomes.Finish(next_run_at=NOW + 900 * SECOND),
        )
        row = await pollers.get(conn, iid, "a")
    assert row.next_run_at == done and row.run_requested is False and row.lease_owner is None


async def test_concurrent_claims_never_share_a_poller(engine: AsyncEngine) -> None:
    for _ in range(12):
        iid = await _instance(engine)
        await _sync(engine, iid, [_resource("a"), _resource("b")], active=True, now=NOW)
    for round_ in range(5):
        now = NOW + round_ * 100 * SECOND  # every lease of the round before has expired
        results = await asyncio.gather(
            *(_claim(engine, f"w{round_}.{n}", now, limit=3) for n in range(8))
        )
        claimed = [c for result in results for c in result]
        assert len(claimed) == len({c.id for c in claimed}), "no poller is claimed twice"
        owners: dict[int, set[str]] = {}
        for c in claimed:
            owners.setdefault(c.instance_id, set()).add(c.lease_owner)
        assert all(len(o) == 1 for o in owners.values()), "an instance's pollers go to one worker"


async def test_versions_are_remembered_and_replaced(engine: AsyncEngine) -> None:
    iid = await _instance(engine)
    rows = await _sync(engine, iid, [_resource("a")], active=True, now=NOW)
    pid = rows["a"].id
    async with db.transaction(engine) as conn:
        await versions.remember(
            conn, pid, {"x": changes.Known(1, "h1"), "y": changes.Known(None, "")}
        )
        await versions.remember(conn, pid, {"x": changes.Known(2, "h2", deleted=True)})
    async with db.reading(engine) as conn:
        assert await versions.versions(conn, pid, ["x", "z"]) == {"x": changes.Known(2, "h2", True)}
        assert set(await versions.versions(conn, pid)) == {"x", "y"}
