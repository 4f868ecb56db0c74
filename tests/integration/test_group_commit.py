"""Group commit on both databases: outcomes written together keep their own lease checks, and
a unit that fails fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.poller import context, recording
from headwater.storage import db, grouped, poller_outcomes, pollers
from tests.integration import test_poller_rows as rows

NOW = rows.NOW
SECOND = rows.SECOND


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(db_url)
    yield engine
    await engine.dispose()


async def _claimed(engine: AsyncEngine, count: int) -> list[pollers.Claimed]:
    for _ in range(count):
        iid = await rows._instance(engine)
        await rows._sync(engine, iid, [rows._resource("a")], active=True, now=NOW)
    claimed = await rows._claim(engine, "w1", NOW, limit=count)
    assert len(claimed) == count
    return claimed


def _finish(n: int, *, release: bool = True) -> poller_outcomes.Finish:
    return poller_outcomes.Finish(
        next_run_at=NOW + (100 + n) * SECOND,
        release=release,
        cursor_ms=1000 + n,
        last_run_at=NOW,
        last_error=None,
        consecutive_failures=0,
        last_event_count=0,
    )


async def _row(engine: AsyncEngine, claimed: pollers.Claimed) -> pollers.Poller:
    async with db.reading(engine) as conn:
        row = await pollers.get(conn, claimed.instance_id, claimed.resource)
    assert row is not None
    return row


async def test_outcomes_written_at_once_commit_together_each_under_its_lease(
    engine: AsyncEngine,
) -> None:
    claimed = await _claimed(engine, 5)
    # the third lost its lease to another worker meanwhile
    lost = claimed[2]
    taken = await rows._claim(engine, "w2", NOW + 60 * SECOND, limit=5)
    assert lost.id in {c.id for c in taken}
    for other in taken:
        if other.id != lost.id:
            async with db.transaction(engine) as conn:
                await pollers.release(conn, [other.id], owner="w2")
            async with db.transaction(engine) as conn:  # back to w1, as claimed
                await conn.execute(
                    pollers.sa.update(pollers._p)
                    .where(pollers._p.c.id == other.id)
                    .values(lease_owner="w1", lease_until=NOW + 90 * SECOND)
                )
    committer = grouped.committer(engine)
    groups = committer.groups
    results = await asyncio.gather(
        *(
            recording.finish_only(engine, c, _finish(n, release=n != 4))
            for n, c in enumerate(claimed)
        ),
        return_exceptions=True,
    )
    assert committer.groups == groups + 1, "the five outcomes shared one transaction"
    assert [isinstance(r, context.LeaseLost) for r in results] == [
        False,
        False,
        True,
        False,
        False,
    ]
    for n, c in enumerate(claimed):
        row = await _row(engine, c)
        if c.id == lost.id:
            assert row.lease_owner == "w2" and row.cursor_ms != 1000 + n
            continue
        assert row.cursor_ms == 1000 + n and row.next_run_at == NOW + (100 + n) * SECOND
        assert row.lease_owner == (None if n != 4 else "w1"), "released unless kept"


async def test_a_failing_unit_fails_alone(engine: AsyncEngine) -> None:
    [first, second] = await _claimed(engine, 2)

    async def fails(conn: AsyncConnection) -> None:
        await poller_outcomes.finish(conn, second.id, owner="w1", now=NOW, outcome=_finish(7))
        raise ValueError("this unit is broken")

    async def works(conn: AsyncConnection) -> bool:
        return await poller_outcomes.finish(conn, first.id, owner="w1", now=NOW, outcome=_finish(3))

    results = await asyncio.gather(
        grouped.write(engine, fails), grouped.write(engine, works), return_exceptions=True
    )
    assert isinstance(results[0], ValueError) and results[1] is True
    assert (await _row(engine, first)).cursor_ms == 1003
    assert (await _row(engine, second)).cursor_ms != 1007, "the broken unit left nothing"


@pytest.mark.parametrize("together", [1, 2])
async def test_a_run_requested_meanwhile_makes_the_poller_due_at_once(
    engine: AsyncEngine, together: int
) -> None:
    claimed = await _claimed(engine, together)
    async with db.transaction(engine) as conn:
        await pollers.request_run(conn, claimed[0].id, now=NOW + SECOND)
    done = NOW + 2 * SECOND
    items = [poller_outcomes.Finishing(c.id, "w1", _finish(n)) for n, c in enumerate(claimed)]
    async with db.transaction(engine) as conn:
        assert await poller_outcomes.finish_many(conn, items, now=done) == [True] * together
    row = await _row(engine, claimed[0])
    assert row.next_run_at == done and row.run_requested is False and row.lease_owner is None
    for n, c in enumerate(claimed[1:], start=1):
        assert (await _row(engine, c)).next_run_at == NOW + (100 + n) * SECOND


def test_outcomes_of_one_shape_share_one_statement() -> None:
    one = poller_outcomes._finish_params(poller_outcomes.Finishing(1, "w", _finish(1)), NOW)
    two = poller_outcomes._finish_params(poller_outcomes.Finishing(2, "w", _finish(2)), NOW)
    kept = poller_outcomes._finish_params(
        poller_outcomes.Finishing(3, "w", _finish(3, release=False)), NOW
    )
    assert one[0] == two[0] != kept[0]
    assert poller_outcomes._finish_statement(one[0]) is poller_outcomes._finish_statement(two[0])
