"""The SQLite driver: one trip to the connection's thread per statement, and the same answers
as aiosqlite's cursors (rows, row counts, executemany, streamed results, errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.storage import db, sqlite_driver

_m = sa.MetaData()
_t = sa.Table("t", _m, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text))


async def test_one_trip_per_statement_with_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[Any] = []
    real = sqlite_driver.Connection._execute

    async def counted(self: sqlite_driver.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        trips.append(fn)
        return await real(self, fn, *args, **kw)

    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counted)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_m.create_all)
            inserted = await conn.execute(
                sa.insert(_t).returning(_t.c.id), [{"v": "a"}, {"v": "b"}, {"v": "c"}]
            )
            assert sorted(row.id for row in inserted) == [1, 2, 3]
            trips.clear()
            rows = (await conn.execute(sa.select(_t).order_by(_t.c.id))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
            assert len(trips) == 1, "execute, fetch and close in one trip"
            changed = await conn.execute(
                sa.update(_t).where(_t.c.id == sa.bindparam("i")).values(v=sa.bindparam("w")),
                [{"i": 1, "w": "x"}, {"i": 2, "w": "y"}, {"i": 99, "w": "z"}],
            )
            assert changed.rowcount == 2
            added = await conn.execute(sa.insert(_t).values(v="d"))
            assert added.inserted_primary_key == (4,)
        async with engine.connect() as conn:
            streamed = await conn.stream(sa.select(_t.c.v).order_by(_t.c.id))
            assert [row.v async for row in streamed] == ["x", "y", "c", "d"]
            with pytest.raises(sa.exc.IntegrityError):
                await conn.execute(sa.insert(_t).values(id=1, v="again"))
            with pytest.raises(sa.exc.OperationalError, match="no such table"):
                await conn.exec_driver_sql("SELECT * FROM missing")
            assert (await conn.scalar(sa.select(sa.func.count()).select_from(_t))) == 4
    finally:
        await engine.dispose()
