"""The migrations produce exactly the schema of ``tables.py`` on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from headwater.storage import db, migrate, tables


async def test_migrated_schema_matches_tables(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    tables.metadata,
                )
            )
        assert diff == []
        assert await migrate.is_current(engine)
    finally:
        await engine.dispose()
