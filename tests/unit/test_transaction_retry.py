"""The one retry of a transaction PostgreSQL aborts (deadlock 40P01, serialization failure 40001):
the whole unit of work runs again, a bounded number of times, counted in the metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.errors import InputError, StorageError
from headwater.storage import db


class _DriverError(Exception):
    """What asyncpg's errors look like once SQLAlchemy adapted them: a ``sqlstate``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def _aborted(sqlstate: str) -> exc.DBAPIError:
    return exc.OperationalError("UPDATE pollers …", {}, _DriverError(sqlstate))


def _retries(reason: str) -> float:
    value = REGISTRY.get_sample_value("headwater_transaction_retries_total", {"reason": reason})
    return value or 0.0


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'retry.db'}")
    async with db.transaction(engine) as conn:
        await conn.execute(sa.text("CREATE TABLE done (run INTEGER)"))
    yield engine
    await engine.dispose()


async def _rows(engine: AsyncEngine) -> list[int]:
    async with db.reading(engine) as conn:
        return list((await conn.execute(sa.text("SELECT run FROM done"))).scalars().all())


async def test_a_deadlocked_unit_of_work_runs_again_until_it_succeeds(engine: AsyncEngine) -> None:
    runs: list[int] = []
    before = _retries("deadlock")

    async def work(conn: AsyncConnection) -> str:
        runs.append(len(runs) + 1)
        await conn.execute(sa.text("INSERT INTO done (run) VALUES (:run)"), {"run": runs[-1]})
        if len(runs) <= 2:
            raise _aborted("40P01")
        return "done"

    assert await db.write(engine, work) == "done"
    assert runs == [1, 2, 3]
    assert await _rows(engine) == [3], "the aborted runs were rolled back"
    assert _retries("deadlock") - before == 2


async def test_a_unit_of_work_that_keeps_failing_stops_at_the_bound(engine: AsyncEngine) -> None:
    runs = 0
    before = _retries("serialization")

    async def work(conn: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        raise _aborted("40001")

    with pytest.raises(StorageError, match="aborted a transaction 3 times") as raised:
        await db.write(engine, work, attempts=3)
    assert runs == 3
    assert db.retry_reason(raised.value) == "serialization"
    assert _retries("serialization") - before == 3


async def test_other_errors_are_not_retried(engine: AsyncEngine) -> None:
    runs = 0

    async def bad_input(conn: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        raise InputError("no")

    with pytest.raises(InputError):
        await db.write(engine, bad_input)

    async def other_database_error(conn: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        raise _aborted("23505")  # a unique violation stays one

    with pytest.raises(StorageError, match="database error"):
        await db.write(engine, other_database_error)
    assert runs == 2


def test_the_reason_is_found_through_translated_errors() -> None:
    try:
        try:
            raise _aborted("40P01")
        except exc.DBAPIError as error:
            raise StorageError("database error") from error
    except StorageError as translated:
        assert db.retry_reason(translated) == "deadlock"
    assert db.retry_reason(_aborted("40001")) == "serialization"
    assert db.retry_reason(_aborted("57014")) is None
    assert db.retry_reason(ValueError("x")) is None
